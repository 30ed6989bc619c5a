import type { InjectionToken } from "tsyringe";
import type { Socket } from "node:net";
import type { ConnectTarget } from "../resolver/resolver.js";
import type { SecureChannel } from "../tls/tls.js";

export interface ConnectRequest {
  readonly localDomain: string;
  readonly remoteDomain: string;
  readonly targets: readonly ConnectTarget[];
  /** TLS handshake for direct-TLS targets (XEP-0368), run by the connector so a failure moves on to the next target. */
  readonly secure: (socket: Socket, target: ConnectTarget) => Promise<SecureChannel>;
  readonly signal?: AbortSignal;
}

export interface Connection {
  /** The socket to speak XML on: plain TCP, or the TLS socket of a direct-TLS target. */
  readonly socket: Socket;
  readonly target: ConnectTarget;
  /** Set when TLS is already up (direct TLS). */
  readonly tls?: SecureChannel;
}

/**
 * The Connector slot: tries targets in order, each attempt bounded by `outgoing.connection_timeout`.
 * Only that: queueing, idling and retrying belong to the core's sessions (core/session/session-settings.ts).
 */
export interface Connector {
  connect(request: ConnectRequest): Promise<Connection>;
}

export const CONNECTOR: InjectionToken<Connector> = Symbol.for("xmpp-s2s.Connector");
