import { createHash, createHmac, randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from "node:tls";

/**
 * An S2S load generator for the memory scenario: opens many authenticated inbound links to one
 * target server, the same way for every target (ours and Prosody). It is a minimal originating
 * *and* authoritative server for its own domain:
 *
 * - outbound links (to the target): stream header, STARTTLS, new header, `db:result` with a valid
 *   XEP-0185 key, wait for `type='valid'`; then the link stays open and idle;
 * - a listener (found by the target through DNS SRV, or `s2s.address` on plain loopback) that
 *   offers STARTTLS with a test certificate (Prosody in dialback mode requires encryption on its
 *   verification connection too), answers `db:verify` with the key computed from the secret and
 *   `db:result` (the target authenticating its own verification stream) with `valid`, unchecked:
 *   this is a load generator, not a server to trust.
 *
 * XML is matched with regular expressions: the peers are known (ours and Prosody), the elements
 * few and flat. Every wait is bounded.
 */
export interface LoadGenOptions {
  readonly domain: string;
  readonly secret: string;
  readonly listenHost: string;
  readonly listenPort: number;
  /** PEM certificate (+chain) and key for this domain: TLS server on the listener, TLS client certificate on links. */
  readonly certPem: string;
  readonly keyPem: string;
  /** Default true. False: plain TCP both ways (the soak: 1,000 links without 2,000 TLS sessions on 2 cores). */
  readonly starttls?: boolean;
}

export interface LinkTarget {
  readonly host: string;
  readonly port: number;
  readonly domain: string;
}

export interface OpenResult {
  readonly valid: number;
  readonly failed: number;
  readonly errors: readonly string[];
  readonly ms: number;
}

const NS_HEADER = "xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'";

function attr(attrs: string, name: string): string | undefined {
  return new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(attrs)?.slice(1).find((v) => v !== undefined);
}

export class S2sLoadGen {
  /** Links that got `type='valid'` and are still open. */
  readonly links = new Set<Socket>();
  verifyAnswered = 0;
  resultsAnswered = 0;
  /** Ids of `<message/>` stanzas the target sent to us (echoes), each counted once. */
  readonly echoed = new Set<string>();
  /** Echoes whose id was seen before (should stay 0). */
  duplicates = 0;
  readonly #hmacKey: string;
  readonly #context?: SecureContext;
  readonly #inbound = new Set<Socket>();
  #server?: Server;

  private constructor(readonly options: LoadGenOptions) {
    this.#hmacKey = createHash("sha256").update(options.secret).digest("hex");
    if (options.starttls ?? true) this.#context = createSecureContext({ cert: options.certPem, key: options.keyPem });
  }

  static async start(options: LoadGenOptions): Promise<S2sLoadGen> {
    const gen = new S2sLoadGen(options);
    const server = createServer((socket) => gen.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.listenPort, options.listenHost, 1024, () => resolve());
    });
    gen.#server = server;
    return gen;
  }

  /** XEP-0185 key. */
  key(receiving: string, originating: string, streamId: string): string {
    return createHmac("sha256", this.#hmacKey).update(`${receiving} ${originating} ${streamId}`).digest("hex");
  }

  /** Opens `count` links to `target`, at most `concurrency` negotiating at once; bounded by `deadlineMs` overall. */
  async openLinks(target: LinkTarget, count: number, concurrency: number, linkTimeoutMs: number, deadlineMs: number): Promise<OpenResult> {
    return this.openLinksFrom(target, Array.from({ length: count }, () => this.options.domain), concurrency, linkTimeoutMs, deadlineMs).then((r) => r.result);
  }

  /**
   * One link per entry of `origins` (the domain each link authenticates as; this generator is the
   * authoritative server for all of them); returns the open sockets by origin.
   */
  async openLinksFrom(target: LinkTarget, origins: readonly string[], concurrency: number, linkTimeoutMs: number, deadlineMs: number): Promise<{ result: OpenResult; byOrigin: Map<string, Socket> }> {
    const count = origins.length;
    const byOrigin = new Map<string, Socket>();
    const started = performance.now();
    const deadline = Date.now() + deadlineMs;
    let next = 0;
    let valid = 0;
    let failed = 0;
    const errors: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < count && Date.now() < deadline) {
        next++;
        try {
          const origin = origins[next - 1]!;
          const socket = await this.#openLink(target, Math.min(linkTimeoutMs, Math.max(1, deadline - Date.now())), origin);
          this.links.add(socket);
          byOrigin.set(origin, socket);
          socket.once("close", () => this.links.delete(socket));
          valid++;
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
    return { result: { valid, failed: failed + (count - next), errors, ms: performance.now() - started }, byOrigin };
  }

  async close(): Promise<void> {
    for (const s of this.links) s.destroy();
    for (const s of this.#inbound) s.destroy();
    this.links.clear();
    this.#inbound.clear();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  // --- Outbound: one link to the target --------------------------------------------------------

  #openLink(target: LinkTarget, timeoutMs: number, domain = this.options.domain): Promise<Socket> {
    const starttls = this.options.starttls ?? true;
    const header = `<?xml version='1.0'?><stream:stream ${NS_HEADER} from='${domain}' to='${target.domain}' version='1.0'>`;
    return new Promise<Socket>((resolve, reject) => {
      const raw = connect({ host: target.host, port: target.port });
      let socket: Socket = raw;
      let text = "";
      let state: "features1" | "proceed" | "tls" | "features2" | "result" | "done" = "features1";
      const fail = (why: string) => {
        if (state === "done") return;
        state = "done";
        clearTimeout(timer);
        socket.destroy();
        raw.destroy();
        reject(new Error(`link to ${target.domain}: ${why}${text ? ` (got: ${text.slice(-300)})` : ""}`));
      };
      const timer = setTimeout(() => fail(`not valid within ${timeoutMs} ms (state ${state})`), timeoutMs);
      const onData = (chunk: Buffer) => {
        if (state === "done") return;
        text += chunk.toString("utf8");
        if (/<stream:error/.test(text)) return fail("stream error");
        if (state === "features1" && !starttls && /<\/stream:features>|<stream:features\s*\/>/.test(text)) {
          state = "features2"; // plain: dialback on the first stream
        }
        if (state === "features1" && /<\/stream:features>|<stream:features\s*\/>/.test(text)) {
          if (!/<starttls\b/.test(text)) return fail("no STARTTLS offered");
          state = "proceed";
          text = "";
          raw.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        } else if (state === "proceed" && /<proceed\b/.test(text)) {
          state = "tls";
          text = "";
          raw.removeListener("data", onData);
          const secure = tlsConnect({ socket: raw, servername: target.domain, rejectUnauthorized: false, cert: this.options.certPem, key: this.options.keyPem });
          socket = secure;
          secure.on("data", onData);
          secure.on("error", (err) => fail(`TLS: ${err.message}`));
          secure.once("secureConnect", () => {
            state = "features2";
            secure.write(header);
          });
        } else if (state === "features2" && /<\/stream:features>|<stream:features\s*\/>/.test(text)) {
          const id = /<stream:stream\b[^>]*?\sid=(?:'([^']+)'|"([^"]+)")/.exec(text);
          const streamId = id?.[1] ?? id?.[2];
          if (!streamId) return fail("no stream id");
          state = "result";
          text = "";
          socket.write(`<db:result from='${domain}' to='${target.domain}'>${this.key(target.domain, domain, streamId)}</db:result>`);
        } else if (state === "result") {
          const m = /<(?:db:)?result\b[^>]*?\stype=['"](\w+)['"]/.exec(text);
          if (!m) return;
          if (m[1] !== "valid") return fail(`dialback answered type='${m[1]}'`);
          state = "done";
          clearTimeout(timer);
          text = "";
          // Idle from now on: drop anything the target sends (whitespace keepalives).
          socket.removeListener("data", onData);
          socket.on("data", () => {});
          resolve(socket);
        }
      };
      raw.on("data", onData);
      raw.on("error", (err) => fail(err.message));
      raw.on("close", () => fail("closed by the target"));
      raw.write(header);
    });
  }

  // --- Inbound: the target's verification streams --------------------------------------------

  #accept(raw: Socket): void {
    this.#inbound.add(raw);
    raw.on("close", () => this.#inbound.delete(raw));
    raw.on("error", () => {});
    const { domain } = this.options;
    let socket: Socket = raw;
    let text = "";
    let secure = !(this.options.starttls ?? true);
    let headerSeen = false;
    let echoes = "";
    const onData = (chunk: Buffer) => {
      const s = chunk.toString("utf8");
      text += s;
      if (secure) echoes = this.#countEchoes(echoes + s);
      if (!headerSeen) {
        const h = /<stream:stream\b([^>]*)>/.exec(text);
        if (!h) return;
        headerSeen = true;
        text = text.slice(h.index + h[0].length);
        const peer = attr(h[1]!, "from") ?? "";
        const id = randomBytes(8).toString("hex");
        const features = secure
          ? "<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>"
          : "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
        socket.write(`<?xml version='1.0'?><stream:stream ${NS_HEADER} from='${domain}'${peer ? ` to='${peer}'` : ""} id='${id}' version='1.0'>${features}`);
      }
      if (!secure) {
        if (!/<starttls\b/.test(text)) return;
        secure = true;
        headerSeen = false;
        text = "";
        raw.removeListener("data", onData);
        raw.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        const tls = new TLSSocket(raw, { isServer: true, secureContext: this.#context, requestCert: false });
        socket = tls;
        tls.on("error", () => raw.destroy());
        tls.on("data", onData);
        return;
      }
      const re = /<(?:db:)?(verify|result)\b([^>]*?)(?:\/>|>([^<]*)<\/(?:db:)?\1>)/g;
      let m: RegExpExecArray | null;
      let consumed = 0;
      while ((m = re.exec(text)) !== null) {
        consumed = re.lastIndex;
        const [, name, attrs = "", body = ""] = m;
        const from = attr(attrs, "from");
        const to = attr(attrs, "to");
        if (!from || !to || attr(attrs, "type")) continue;
        if (name === "verify") {
          const id = attr(attrs, "id") ?? "";
          const ok = body.trim() === this.key(from, to, id);
          this.verifyAnswered++;
          socket.write(`<db:verify from='${to}' to='${from}' id='${id}' type='${ok ? "valid" : "invalid"}'/>`);
        } else {
          this.resultsAnswered++;
          socket.write(`<db:result from='${to}' to='${from}' type='valid'/>`);
        }
      }
      text = consumed > 0 ? text.slice(consumed) : text.length > 65_536 ? text.slice(-4_096) : text;
    };
    raw.on("data", onData);
  }

  /** Counts complete `<message ... id='...'>` start tags; returns the unfinished tail (from the last '<') to prepend to the next chunk. */
  #countEchoes(text: string): string {
    const re = /<message\b[^>]*?\sid=(?:'([^']*)'|"([^"]*)")[^>]*>/g;
    let m: RegExpExecArray | null;
    let end = 0;
    while ((m = re.exec(text)) !== null) {
      const id = m[1] ?? m[2] ?? "";
      if (this.echoed.has(id)) this.duplicates++;
      else this.echoed.add(id);
      end = re.lastIndex;
    }
    // Keep from the last '<' on: a chunk may end inside a start tag, or inside "<message" itself.
    const open = text.lastIndexOf("<");
    return open >= end ? text.slice(open) : "";
  }
}
