import { connect, createServer, type Server, type Socket } from "node:net";
import { listenOnFreePort } from "../helpers/ports.js";

/**
 * A TCP relay on loopback between two servers, so a test can cut a working connection while both
 * ends live on (`ss -K` in a network namespace would do it with root; this is the same fault on real
 * sockets without root: `cut()` resets both halves of every relayed connection, as a middlebox
 * or a NAT timeout would).
 */
export class TcpProxy {
  readonly #pairs = new Set<[Socket, Socket]>();
  /** Connections relayed so far. */
  accepted = 0;

  private constructor(readonly server: Server, readonly host: string, readonly port: number) {}

  static async start(host: string, target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, host, await listenOnFreePort(server, host));
    server.on("connection", (client) => proxy.#relay(client, target));
    return proxy;
  }

  #relay(client: Socket, target: { host: string; port: number }): void {
    this.accepted++;
    const upstream = connect(target);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on("error", end);
      s.on("close", end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Connections currently relayed. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Bytes read and thrown away since `blackhole()`. */
  swallowed = 0;

  /**
   * Stop relaying without closing anything: whatever is written from now on is read and thrown
   * away (counted in `swallowed`), as on a link that dies silently. `both` (default): either way;
   * `toTarget`: only what clients send, while the target's answers (XEP-0198 acks) still come back.
   * The XEP-0198 tests use it so that stanzas surely are written and never read before `cut()`.
   */
  blackhole(direction: "both" | "toTarget" = "both"): void {
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      const swallow = (s: Socket) => s.on("data", (chunk: Buffer) => void (this.swallowed += chunk.length)).resume();
      swallow(client);
      if (direction === "both") {
        upstream.unpipe(client);
        swallow(upstream);
      }
    }
  }

  /**
   * Stop reading what clients send, connections kept (a peer that stops reading: the client's
   * writes pile up in its socket, and it sees its stream congested); the target's answers still
   * come back. `resumeClients()` relays again, nothing lost.
   */
  pauseClients(): void {
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      client.pause();
    }
  }

  resumeClients(): void {
    for (const [client, upstream] of this.#pairs) client.pipe(upstream);
  }

  /** Reset every relayed connection (RST both ways): the peers see a broken link. */
  cut(): number {
    const n = this.#pairs.size;
    for (const [a, b] of [...this.#pairs]) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.#pairs.clear();
    return n;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
