import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";

/**
 * A deliberately thin XEP-0114 component for benchmarks: raw socket, handshake, pre-serialised
 * writes, and counting of received `</message>` end tags. The same client drives every server
 * under test, so the client's own cost is the same on both sides of a ratio and stays small.
 */
export class RawComponent {
  received = 0;
  /** Set when the server closed the socket (a stream error, a crash). */
  closed = false;
  #tail = "";
  #recent = "";
  #waiters: Array<{ count: number; resolve: () => void }> = [];
  #firstArrival?: (at: number) => void;

  private constructor(readonly socket: Socket, readonly domain: string) {}

  static async connect(host: string, port: number, domain: string, secret: string, timeoutMs = 20_000): Promise<RawComponent> {
    const socket = connect({ host, port, noDelay: true });
    socket.setEncoding("utf8");
    const client = new RawComponent(socket, domain);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`component ${domain}: no handshake within ${timeoutMs} ms`)), timeoutMs);
      let text = "";
      let sent = false;
      const onData = (chunk: string) => {
        text += chunk;
        const id = /<stream:stream[^>]*\sid=['"]([^'"]+)['"]/.exec(text)?.[1];
        if (id && !sent) {
          sent = true;
          socket.write(`<handshake>${createHash("sha1").update(id + secret).digest("hex")}</handshake>`);
        }
        if (/<handshake\s*\/>|<handshake><\/handshake>/.test(text)) {
          clearTimeout(timer);
          socket.off("data", onData);
          socket.on("data", (c: string) => client.#count(c));
          socket.on("close", () => (client.closed = true));
          socket.on("error", () => {});
          resolve();
        } else if (/<stream:error/.test(text)) {
          clearTimeout(timer);
          reject(new Error(`component ${domain} refused: ${text}`));
        }
      };
      socket.on("data", onData);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
    });
    return client;
  }

  write(text: string): boolean {
    return this.socket.write(text);
  }

  /** Resolves once `count` messages in total have arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<void> {
    if (this.received >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { count, resolve: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.domain}: ${this.received} of ${count} messages after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** performance.now() when the next message arrives. */
  nextArrival(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.domain}: no message within ${timeoutMs} ms`)), timeoutMs);
      this.#firstArrival = (at) => { clearTimeout(timer); resolve(at); };
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** The last few KB received (for error messages: a bounce, a stream error). */
  get recent(): string {
    return this.#recent;
  }

  #count(chunk: string): void {
    this.#recent = this.#recent.length + chunk.length > 4096 ? (this.#recent + chunk).slice(-4096) : this.#recent + chunk;
    const text = this.#tail + chunk;
    let n = 0;
    for (let i = text.indexOf("</message>"); i !== -1; i = text.indexOf("</message>", i + 10)) n++;
    this.#tail = text.slice(-9);
    if (n === 0) return;
    this.received += n;
    if (this.#firstArrival) {
      const cb = this.#firstArrival;
      this.#firstArrival = undefined;
      cb(performance.now());
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (this.received < w.count) return true;
      w.resolve();
      return false;
    });
  }
}

/** A ~200-byte message stanza from a component to another. */
export function benchMessage(from: string, to: string, i: number): string {
  const body = "The quick brown fox jumps over the lazy dog, again and again, message number ";
  return `<message from='load@${from}' to='sink@${to}' type='chat' id='b${i}'><body>${body}${i}</body></message>`;
}
