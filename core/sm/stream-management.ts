import type { InjectionToken } from "tsyringe";

/** XEP-0198 namespace (version 3). */
export const SM_NS = "urn:xmpp:sm:3";

/**
 * The stream-management slot (`[plugins] sm`, default `["stream_management"]`, the plugin of
 * that name): settings for XEP-0198 acks and resumption on S2S streams. The protocol itself lives in
 * core/session (sm-inbound.ts, sm-outbound*.ts), since it is part of how a stream carries stanzas;
 * the slot decides whether it is on and how it behaves. No provider (`enabled = false`): streams
 * neither offer nor enable SM, exactly as before it existed.
 */
export interface StreamManagementSettings {
  /** How long a broken link may take to be resumed before its unacknowledged stanzas bounce (ms). */
  readonly resumeWindowMs: number;
  /** Ask for an ack (`<r/>`) after this many stanzas written since the last request. */
  readonly ackEvery: number;
  /** Inbound SM sessions kept for resumption at most (oldest dropped first). */
  readonly maxResumable: number;
}

/**
 * Acks on a quiet link: stanzas written (or handled) and not yet covered by a request (or an ack)
 * get one this long after the first of them, so a burst costs one `<r/>` per `ackEvery` stanzas
 * and the tail of any burst is acknowledged within this delay.
 */
export const ACK_DELAY_MS = 100;

export const STREAM_MANAGEMENT: InjectionToken<StreamManagementSettings> = Symbol.for("xmpp-s2s.StreamManagement");
