import { createServer, type Server, type Socket } from "node:net";
import { freePort } from "../helpers/ports.js";
import { DEADLINE_MS, eventually } from "../helpers/wait.js";

/**
 * A scripted receiving server for XEP-0198 tests of our outbound side: it answers each connection's
 * stream header with dialback (and `<sm/>` when `offersSm`), says `valid` to every `db:result`
 * without checking it, and from then on lets the test read what our server writes and answer by hand.
 */
export class FakeReceiver {
  readonly connections: FakeConnection[] = [];

  private constructor(
    private readonly server: Server,
    readonly ip: string,
    readonly port: number,
  ) {}

  static async start(ip: string, domain: string, offersSm = true): Promise<FakeReceiver> {
    const port = await freePort(ip);
    const server = createServer();
    const receiver = new FakeReceiver(server, ip, port);
    server.on("connection", (socket) => receiver.connections.push(new FakeConnection(socket, domain, offersSm, receiver.connections.length)));
    await new Promise<void>((resolve) => server.listen(port, ip, resolve));
    return receiver;
  }

  /** The `n`th connection (0-based), once it is authenticated. */
  async connection(n: number): Promise<FakeConnection> {
    await eventually(() => this.connections[n]?.authenticated === true, DEADLINE_MS, `connection ${n} authenticated`);
    return this.connections[n]!;
  }

  close(): void {
    for (const c of this.connections) c.destroy();
    this.server.close();
  }
}

export class FakeConnection {
  /** Everything our server wrote on this connection. */
  text = "";
  authenticated = false;

  constructor(
    readonly socket: Socket,
    domain: string,
    offersSm: boolean,
    n: number,
  ) {
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    socket.on("data", (chunk: string) => {
      const first = !this.text.includes("<stream:stream");
      this.text += chunk;
      if (first && this.text.includes("<stream:stream")) {
        const from = /<stream:stream[^>]*\sfrom=['"]([^'"]+)['"]/.exec(this.text)?.[1] ?? "";
        const features = `<dialback xmlns='urn:xmpp:features:dialback'/>${offersSm ? "<sm xmlns='urn:xmpp:sm:3'/>" : ""}`;
        socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0' from='${domain}' to='${from}' id='fake${n}'><stream:features>${features}</stream:features>`);
      }
      if (!this.authenticated && /<db:result[^>]*>[0-9a-f]+<\/db:result>/.test(this.text)) {
        this.authenticated = true;
        const from = /<db:result[^>]*\sfrom=['"]([^'"]+)['"]/.exec(this.text)![1];
        socket.write(`<db:result from='${domain}' to='${from}' type='valid'/>`);
      }
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Resolves with the match once what our server wrote matches `pattern`. */
  async waitFor(pattern: RegExp, what = String(pattern)): Promise<RegExpExecArray> {
    let m: RegExpExecArray | null = null;
    await eventually(() => (m = pattern.exec(this.text)) !== null, DEADLINE_MS, `${what} (got ${this.text.slice(-400)})`);
    return m!;
  }

  /** How often `pattern` occurs in what our server wrote. */
  count(pattern: RegExp): number {
    return [...this.text.matchAll(new RegExp(pattern.source, "g"))].length;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
