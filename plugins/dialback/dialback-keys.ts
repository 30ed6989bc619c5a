import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { DialbackKeys } from "../../core/index.js";

/**
 * XEP-0185 §3 keys: HMAC-SHA256 with key = hex(SHA-256(secret)) over
 * "Receiving Server" SP "Originating Server" SP "Stream ID", as lower-case hex.
 */
export class Xep0185Keys implements DialbackKeys {
  readonly #hmacKey: string;

  constructor(secret: string) {
    this.#hmacKey = createHash("sha256").update(secret).digest("hex");
  }

  generate(receivingDomain: string, originatingDomain: string, streamId: string): string {
    return createHmac("sha256", this.#hmacKey).update(`${receivingDomain} ${originatingDomain} ${streamId}`).digest("hex");
  }

  verify(receivingDomain: string, originatingDomain: string, streamId: string, key: string): boolean {
    const expected = Buffer.from(this.generate(receivingDomain, originatingDomain, streamId));
    const given = Buffer.from(key.trim().toLowerCase());
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** `s2s.shared` unset: 10 strong random bytes, hex (MongooseIM's default). Only this process can verify. */
export function randomSecret(): string {
  return randomBytes(10).toString("hex");
}
