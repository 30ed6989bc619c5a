/**
 * Detects invalid UTF-8 behind a `StringDecoder`.
 *
 * `StringDecoder` keeps multi-byte characters split across chunks intact, but it replaces invalid
 * byte sequences with U+FFFD instead of failing. XML 1.0 §4.3.3 makes bytes that are illegal in the
 * document's encoding a fatal error, and RFC 6120 §11.6 fixes that encoding to UTF-8, so such input
 * is not well-formed. U+FFFD is also a legal character that a peer may send encoded (EF BF BD), so
 * the check compares counts: every U+FFFD the decoder produced for a chunk must match an encoded
 * EF BF BD whose last byte is in that chunk (the decoder emits a character with its last byte).
 * Only chunks whose text contains U+FFFD pay for the count, which is rare.
 */
export class Utf8Validator {
  /** The last two bytes of the stream so far (-1 before there are any); `b2` is the last. */
  private b1 = -1;
  private b2 = -1;

  /** Call once per chunk with the chunk and what the decoder returned for it. False: invalid UTF-8. */
  check(chunk: Uint8Array, decoded: string): boolean {
    let ok = true;
    if (decoded.indexOf("\uFFFD") !== -1) ok = countChar(decoded) <= this.countEncoded(chunk);
    const n = chunk.length;
    if (n >= 2) {
      this.b1 = chunk[n - 2]!;
      this.b2 = chunk[n - 1]!;
    } else if (n === 1) {
      this.b1 = this.b2;
      this.b2 = chunk[0]!;
    }
    return ok;
  }

  /** EF BF BD sequences ending inside `chunk`, including those that started in the previous chunks. */
  private countEncoded(chunk: Uint8Array): number {
    let count = 0;
    if (this.b1 === 0xef && this.b2 === 0xbf && chunk[0] === 0xbd) count++;
    if (this.b2 === 0xef && chunk[0] === 0xbf && chunk[1] === 0xbd) count++;
    for (let i = 0; i + 2 < chunk.length; i++) {
      if (chunk[i] === 0xef && chunk[i + 1] === 0xbf && chunk[i + 2] === 0xbd) {
        count++;
        i += 2;
      }
    }
    return count;
  }
}

function countChar(text: string): number {
  let count = 0;
  for (let at = text.indexOf("\uFFFD"); at !== -1; at = text.indexOf("\uFFFD", at + 1)) count++;
  return count;
}
