import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { DialbackKeys } from "../../core/index.js";

/**
 * XEP-0185 §3 keys: HMAC-SHA256 with key = hex(SHA-256(secret)) over
 * "Receiving Server" SP "Originating Server" SP "Stream ID", as lower-case hex.
 *
 * Several secrets may be held for rotation (`s2s.shared` as a list): the first signs, every one
 * verifies. A key sent in `db:result` just before a rotation is checked by `db:verify` after it, so
 * the old secret stays in the list until every node signs with the new one.
 */
export class Xep0185Keys implements DialbackKeys {
  #hmacKeys: readonly string[];

  constructor(secrets: string | readonly string[]) {
    this.#hmacKeys = derive(secrets);
    // node:crypto builds its Hmac class on first use (~0.8 ms here), which the first link paid on
    // its critical path (the db:result key); one HMAC of nothing at start-up pays it once, off that
    // path (docs/performance.md, "First message on a fresh link"). Nothing is kept.
    createHmac("sha256", this.#hmacKeys[0]!).digest();
  }

  generate(receivingDomain: string, originatingDomain: string, streamId: string): string {
    return mac(this.#hmacKeys[0]!, receivingDomain, originatingDomain, streamId);
  }

  verify(receivingDomain: string, originatingDomain: string, streamId: string, key: string): boolean {
    const given = Buffer.from(key.trim().toLowerCase());
    let ok = false;
    // Every secret is tried (no early exit), so the time taken does not tell which one matched.
    for (const hmacKey of this.#hmacKeys) {
      const expected = Buffer.from(mac(hmacKey, receivingDomain, originatingDomain, streamId));
      if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
    }
    return ok;
  }

  /**
   * Take the secrets of a reloaded config in place. Authenticated streams are not affected (keys
   * are used only while authenticating). Without secrets (`s2s.shared` removed) the ones in use
   * stay: a fresh random secret would fail every verification in flight. True when replaced.
   */
  replace(secrets: readonly string[] | undefined): boolean {
    if (secrets === undefined || secrets.length === 0) return false;
    this.#hmacKeys = derive(secrets);
    return true;
  }
}

function derive(secrets: string | readonly string[]): readonly string[] {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  if (list.length === 0) throw new Error("Xep0185Keys: at least one secret");
  return list.map((s) => createHash("sha256").update(s).digest("hex"));
}

function mac(hmacKey: string, receivingDomain: string, originatingDomain: string, streamId: string): string {
  return createHmac("sha256", hmacKey).update(`${receivingDomain} ${originatingDomain} ${streamId}`).digest("hex");
}

/** `s2s.shared` unset: 10 strong random bytes, hex (MongooseIM's default). Only this process can verify. */
export function randomSecret(): string {
  return randomBytes(10).toString("hex");
}
