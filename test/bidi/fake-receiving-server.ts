import { createServer, type Server, type Socket } from "node:net";
import { listenOnFreePort } from "../helpers/ports.js";
import { DEADLINE_MS } from "../helpers/wait.js";

/**
 * A scripted receiving server on loopback (plaintext): answers the first stream header with its own
 * header and the features it is given, then writes exactly what the test says, so a test can make
 * it claim what no honest peer would (a stanza from a domain it never authenticated).
 */
export class FakeReceivingServer {
  text = "";
  closed = false;
  #socket?: Socket;
  readonly #waiters = new Set<() => void>();

  private constructor(readonly server: Server, readonly host: string, readonly port: number) {}

  static async start(host: string, domain: string, features: string): Promise<FakeReceivingServer> {
    const server = createServer();
    const fake = new FakeReceivingServer(server, host, await listenOnFreePort(server, host));
    server.on("connection", (socket) => {
      // One connection is the script; a second one would be a failed test's retry.
      if (fake.#socket) return void socket.destroy();
      fake.#socket = socket;
      socket.setEncoding("utf8");
      socket.on("error", () => {});
      socket.on("close", () => {
        fake.closed = true;
        fake.#wake();
      });
      let answered = false;
      socket.on("data", (chunk: string) => {
        fake.text += chunk;
        if (!answered && /<stream:stream[^>]*>/.test(fake.text)) {
          answered = true;
          socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${domain}' id='fake-1' version='1.0'><stream:features>${features}</stream:features>`);
        }
        fake.#wake();
      });
    });
    return fake;
  }

  write(text: string): void {
    this.#socket?.write(text);
  }

  /** Resolves when what the server under test sent matches `pattern`. */
  waitFor(pattern: RegExp, ms = DEADLINE_MS): Promise<RegExpExecArray> {
    return this.#until(() => pattern.exec(this.text) ?? undefined, ms, String(pattern));
  }

  waitClosed(ms = DEADLINE_MS): Promise<true> {
    return this.#until(() => (this.closed ? true : undefined), ms, "close");
  }

  #until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(listener);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; received: ${this.text}`));
      }, ms);
      const listener = () => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(listener);
        resolve(value);
      };
      this.#waiters.add(listener);
      listener();
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  async stop(): Promise<void> {
    this.#socket?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
