import type { InjectionToken } from "tsyringe";

/** The Dialback slot: key generation and checking (XEP-0220 §2.1 with XEP-0185 keys). */
export interface DialbackKeys {
  /** XEP-0185 §3: HMAC-SHA256(key = hex(SHA-256(secret)), "receiving originating streamId"), lower-case hex. */
  generate(receivingDomain: string, originatingDomain: string, streamId: string): string;
  verify(receivingDomain: string, originatingDomain: string, streamId: string, key: string): boolean;
}

export const DIALBACK: InjectionToken<DialbackKeys> = Symbol.for("xmpp-s2s.Dialback");
