import { connect, type Socket } from "node:net";
import { DEADLINE_MS } from "./wait.js";

/**
 * A scripted S2S peer on a raw socket: writes exactly what a test says and collects what the
 * server answers, so tests can send what no well-behaved server would (bad keys, spoofed 'from',
 * restricted XML) and read the exact stream errors.
 */
export class ScriptedPeer {
  data = "";
  closed = false;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.data += chunk;
      this.notify();
    });
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    socket.on("error", () => {});
  }

  static connect(host: string, port: number): Promise<ScriptedPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new ScriptedPeer(socket)));
      socket.once("error", reject);
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Open an S2S stream from `from` to `to` and wait for the features; returns the server's stream id. */
  async open(from: string | undefined, to: string): Promise<string> {
    this.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0'${from ? ` from='${from}'` : ""} to='${to}'>`);
    await this.waitFor(/<\/stream:features>|<stream:features\/>/);
    const id = /<stream:stream[^>]*\sid='([^']+)'/.exec(this.data)?.[1];
    if (!id) throw new Error(`no stream id in ${this.data}`);
    return id;
  }

  /** Wait until the received text matches `pattern` (or throw on close/deadline). */
  waitFor(pattern: RegExp, ms = DEADLINE_MS): Promise<RegExpExecArray> {
    return this.until(() => pattern.exec(this.data) ?? undefined, ms, `${pattern}`);
  }

  /** Wait until the server closed the socket. */
  async waitClosed(ms = DEADLINE_MS): Promise<void> {
    await this.until(() => (this.closed ? true : undefined), ms, "close");
  }

  /** The stream error condition the server sent, if any. */
  streamError(): string | undefined {
    return /<stream:error><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'/.exec(this.data)?.[1];
  }

  close(): void {
    this.socket.destroy();
  }

  private until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value !== undefined) {
          done();
          resolve(value);
          return true;
        }
        if (this.closed && what !== "close") {
          done();
          reject(new Error(`socket closed before ${what}; received: ${this.data}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; received: ${this.data}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(listener);
      };
      const listener = () => void attempt();
      if (attempt()) return;
      this.waiters.add(listener);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
