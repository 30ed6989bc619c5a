/** Dialback key generation and checking (XEP-0220 §2.1 with XEP-0185 keys), used inside the dialback plugin. */
export interface DialbackKeys {
  /** XEP-0185 §3: HMAC-SHA256(key = hex(SHA-256(secret)), "receiving originating streamId"), lower-case hex. */
  generate(receivingDomain: string, originatingDomain: string, streamId: string): string;
  verify(receivingDomain: string, originatingDomain: string, streamId: string, key: string): boolean;
  /**
   * Optional: take the secrets of a reloaded config (`s2s.shared`, the signing one first) in place.
   * False when there are none to take (the secrets in use stay). Without it a new secret needs a restart.
   */
  replace?(secrets: readonly string[] | undefined): boolean;
}
