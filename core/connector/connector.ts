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

/** Session settings owned by the connector plugin (its `[plugins.<name>]` options and `[s2s]` keys). */
export interface SessionSettings {
  /** Stanzas held per (local, remote) pair while it is not established; overflow bounces `resource-constraint`. */
  readonly queueLimit: number;
  /** An established outbound stream with nothing sent for this long is closed. Infinity: never. */
  readonly idleTimeoutMs: number;
  /** From TCP connect to an authenticated stream; beyond it the attempt fails (`remote-server-timeout`). */
  readonly negotiationTimeoutMs: number;
  /** First delay before retrying a pair whose targets all failed; doubles up to maxRetryDelayMs. */
  readonly initialRetryDelayMs: number;
  /** `s2s.max_retry_delay`, in ms. */
  readonly maxRetryDelayMs: number;
  /** While a pair waits to retry, new stanzas are held this long and then bounced `remote-server-not-found`. */
  readonly holdWindowMs: number;
  /**
   * Outbound (local, remote) sessions kept at once; idle ones are evicted first (least recently
   * used). Optional so connectors written before it keep compiling: absent means DEFAULT_MAX_SESSIONS.
   */
  readonly maxSessions?: number;
}

/** Outbound sessions kept at once when the connector does not say (`[plugins.tcp] max_sessions` default). */
export const DEFAULT_MAX_SESSIONS = 10_000;

/** The Connector slot: tries targets in order, each attempt bounded by `outgoing.connection_timeout`. */
export interface Connector {
  connect(request: ConnectRequest): Promise<Connection>;
  readonly sessionSettings: SessionSettings;
}

export const CONNECTOR: InjectionToken<Connector> = Symbol.for("xmpp-s2s.Connector");
