import type { InjectionToken } from "tsyringe";
import type { Observable } from "rxjs";
import { Subject } from "../cjs/rxjs.js";
import type { ConnectTarget } from "../resolver/resolver.js";
import type { PeerSummary } from "../tls/peer-summary.js";

/**
 * Lifecycle events. `type` is also the `what` of the matching log entry, so operators grep one
 * vocabulary (docs/operations.md). Outbound events carry the (local, remote) pair; inbound ones the stream id.
 */
export type S2sEvent =
  | { type: "listening"; kind: "s2s" | "service"; address: string; port: number }
  | { type: "inbound_accepted"; streamId: string; address: string }
  | { type: "inbound_stream_error"; streamId: string; condition: string; text?: string }
  | { type: "inbound_closed"; streamId: string }
  | { type: "inbound_connection_refused"; address: string; condition: string }
  | { type: "dialback_refused"; local: string; remote: string; condition: string; reason: string }
  | { type: "connecting"; local: string; remote: string }
  | { type: "connect_failed"; local: string; remote: string; target?: string; reason: string }
  | { type: "connected"; local: string; remote: string; target: string }
  /** The resolver answered (`targets`, in connect order) or failed (`targets` absent, `reason`), after `durationMs`. */
  | { type: "resolve_done"; local: string; remote: string; durationMs: number; targets?: readonly ConnectTarget[]; reason?: string }
  /** RFC 6120 §4.3.2: the features the peer offered on our outbound stream (`secure`: after TLS). */
  | { type: "stream_features"; local: string; remote: string; streamId: string; secure: boolean; features: readonly string[] }
  /** Our outbound TLS handshake succeeded: what the peer presented, before our verification decides (`xmpp-s2s probe` shows it). */
  | { type: "tls_peer"; local: string; remote: string; direction: "outbound"; peer: PeerSummary }
  | { type: "tls_up"; local: string; remote: string; direction: "inbound" | "outbound"; streamId?: string }
  /** A TLS handshake failed (remote may be "" when it failed before any stream header). */
  | { type: "tls_failed"; local: string; remote: string; direction: "inbound" | "outbound"; reason: string }
  | { type: "authenticated"; local: string; remote: string; direction: "inbound" | "outbound"; method: string; streamId?: string }
  /** `denied`: our policy refused the domain after it proved itself (inbound); otherwise the method failed. */
  | { type: "auth_failed"; local: string; remote: string; direction: "inbound" | "outbound"; method: string; reason: string; denied?: true }
  /** `method`: the authenticator that made the stream usable (`sasl_external`, `dialback`), as in the log line. */
  | { type: "established"; local: string; remote: string; method: string }
  /** XEP-0288: (local -> remote) rides an inbound stream, or (remote -> local) is accepted on our outbound one. */
  | { type: "bidi_up"; local: string; remote: string; over: "inbound" | "outbound"; streamId: string }
  | { type: "bidi_down"; local: string; remote: string; over: "inbound" | "outbound"; streamId: string }
  | { type: "failed"; local: string; remote: string; condition: string; reason: string }
  | { type: "closed"; local: string; remote: string; reason: string }
  | { type: "retry_scheduled"; local: string; remote: string; delayMs: number; attempt: number }
  | { type: "policy_decision"; local: string; remote: string; direction: "inbound" | "outbound"; verdict: "allow" | "deny"; decidedBy: string }
  | { type: "policy_failed"; policy: string; local: string; remote: string; reason: string }
  | { type: "stanza_bounced"; from: string; to: string; condition: string; name: string; id?: string }
  | { type: "component_connected"; domain: string }
  | { type: "component_disconnected"; domain: string }
  | { type: "config_reloaded" }
  // XEP-0198 stream management: enabled on a stream; resumed (`h`: stanzas the receiver had handled,
  // `resent`: written again); unacknowledged stanzas bounced because the link was not resumed.
  | { type: "sm_enabled"; local: string; remote: string; direction: "inbound" | "outbound"; resume: boolean }
  | { type: "sm_resumed"; local: string; remote: string; direction: "inbound" | "outbound"; h: number; resent?: number }
  | { type: "sm_resume_failed"; local: string; remote: string; bounced: number; reason: string }
  // Cluster mode (docs/cluster.md)
  | { type: "cluster_node_joined"; node: string }
  | { type: "cluster_node_left"; node: string }
  | { type: "cluster_lease_taken"; local: string; remote: string; node: string }
  | { type: "cluster_lease_lost"; local: string; remote: string; node: string; owner?: string }
  | { type: "cluster_forward_failed"; node: string; to: string; reason: string }
  /** Once per outage (then cluster_redis_reconnected), not once per failed command. */
  | { type: "cluster_redis_unavailable"; node: string; reason: string }
  | { type: "cluster_redis_reconnected"; node: string };

export type S2sEventType = S2sEvent["type"];

/** The Events slot: one bus per server instance. The Subject stays private: only the bus emits. */
export class EventBus {
  readonly #subject = new Subject<S2sEvent>();
  readonly events$: Observable<S2sEvent> = this.#subject.asObservable();

  emit(event: S2sEvent): void {
    this.#subject.next(event);
  }

  complete(): void {
    this.#subject.complete();
  }
}

export const EVENTS: InjectionToken<EventBus> = Symbol.for("xmpp-s2s.Events");
