/**
 * A raw TCP peer for wire-level tests: connect to a listener, write exact bytes (stream headers,
 * deliberately broken XML), collect everything the server sends as text, and wait until the text
 * matches a pattern or the server closes the connection. No XML parsing on purpose: tests assert
 * on the bytes an arbitrary peer would see.
 *
 *   const peer = await RawPeer.connect("127.0.0.41", port);
 *   peer.write(streamHeader({ to: "a.example" }));
 *   await peer.waitFor(/<stream:features>[\s\S]*<\/stream:features>/);
 *   peer.write("</stream:stream>");
 *   await peer.closed();
 *   peer.destroy(); // always, in `after`/`finally`
 */
import { connect, type Socket } from "node:net";
import { SaxesParser } from "saxes";
import { DEADLINE_MS } from "./wait.js";

export class RawPeer {
  /** Everything received so far, decoded as UTF-8 (split multi-byte characters are handled). */
  text = "";
  #closed = false;
  #closedPromise: Promise<void>;
  #waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.text += chunk;
      this.#wake();
    });
    // A reset from the server is a way of closing too; tests look at `text` and `closed()`.
    socket.on("error", () => {});
    this.#closedPromise = new Promise((resolve) => {
      socket.once("close", () => {
        this.#closed = true;
        this.#wake();
        resolve();
      });
    });
  }

  /** Connect to `host:port` (rejects on a connection error or after `ms`). */
  static connect(host: string, port: number, ms = DEADLINE_MS): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`timed out after ${ms} ms connecting to ${host}:${port}`));
      }, ms);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", reject);
        resolve(new RawPeer(socket));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** True once the socket has closed (either side). */
  get isClosed(): boolean {
    return this.#closed;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /**
   * Resolve with the match once the received text matches `pattern`. Rejects if the socket closes
   * without a match, or after `ms`, with the text received so far in the message.
   */
  waitFor(pattern: RegExp, ms = DEADLINE_MS): Promise<RegExpMatchArray> {
    return this.#until(() => this.text.match(pattern) ?? undefined, `${pattern}`, ms, true);
  }

  /** Resolve once the server has closed the connection (rejects after `ms`). */
  closed(ms = DEADLINE_MS): Promise<void> {
    return this.#until(() => (this.#closed ? true : undefined), "the socket to close", ms, false).then(() => this.#closedPromise);
  }

  /** Close our side now (idempotent). */
  destroy(): void {
    this.socket.destroy();
  }

  #until<T>(check: () => T | undefined, what: string, ms: number, failOnClose: boolean): Promise<T> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        const value = check();
        if (value !== undefined) done(() => resolve(value));
        else if (failOnClose && this.#closed) done(() => reject(new Error(`socket closed before ${what}; received:\n${this.text}`)));
      };
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        settle();
      };
      timer = setTimeout(() => done(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; received:\n${this.text}`))), ms);
      this.#waiters.add(wake);
      wake();
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** An S2S stream header (jabber:server, dialback prefix, version 1.0); `undefined` attributes are left out. */
export function streamHeader(attrs: Record<string, string | undefined> = {}, options: { contentNs?: string; streamNs?: string } = {}): string {
  const all: Record<string, string | undefined> = { version: "1.0", ...attrs };
  let out = `<?xml version='1.0'?><stream:stream xmlns='${options.contentNs ?? "jabber:server"}' xmlns:stream='${options.streamNs ?? "http://etherx.jabber.org/streams"}' xmlns:db='jabber:server:dialback'`;
  for (const [k, v] of Object.entries(all)) if (v !== undefined) out += ` ${k}='${v}'`;
  return `${out}>`;
}

/** An element as read back from the wire, with resolved namespaces. */
export interface WireElement {
  readonly name: string;
  readonly ns: string;
  /** Attributes by qualified name, namespace declarations left out. */
  readonly attrs: Record<string, string>;
  readonly children: WireElement[];
  text: string;
}

/** What a peer received, read as one XML stream. */
export interface WireStream {
  /** The server's `<stream:stream>` (its children are the first-level elements received so far). */
  readonly root?: WireElement;
  /** `</stream:stream>` was received. */
  readonly ended: boolean;
  /** Set when the received bytes are not well-formed XML. */
  readonly error?: string;
}

/**
 * Parse everything received (`peer.text`) as an XML stream with namespaces (saxes, strict), so a
 * test can assert on namespaces and document order rather than on one serialisation.
 */
export function parseStream(text: string): WireStream {
  const parser = new SaxesParser({ xmlns: true });
  const stack: WireElement[] = [];
  let root: WireElement | undefined;
  let ended = false;
  let error: string | undefined;
  parser.on("opentag", (tag) => {
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) if (a.prefix !== "xmlns" && a.name !== "xmlns") attrs[a.name] = a.value;
    const element: WireElement = { name: tag.local, ns: tag.uri, attrs, children: [], text: "" };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on("text", (t) => {
    if (stack.length > 0) stack[stack.length - 1]!.text += t;
  });
  parser.on("closetag", () => {
    stack.pop();
    if (stack.length === 0) ended = true;
  });
  parser.on("error", (err) => {
    error ??= err.message;
  });
  try {
    parser.write(text);
  } catch (err) {
    error ??= (err as Error).message;
  }
  return { root, ended, error };
}
