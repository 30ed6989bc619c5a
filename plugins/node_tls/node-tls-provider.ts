import type { X509Certificate } from "node:crypto";
import { isIP, Socket } from "node:net";
import * as tls from "node:tls";
import {
  type Clock,
  ConfigError,
  type DomainCertfileEntry,
  ERROR_CODES,
  loadCaCertificates,
  loadCertificateWithKey,
  type Logger,
  type PeerIdentityCheck,
  type S2sConfig,
  S2sError,
  type SecureChannel,
  systemClock,
  type StartTlsMode,
  type TlsProvider,
} from "../../core/index.js";
import { chainFromDetailed, TrustStore, verifyChain } from "./chain.js";
import { ContextTrust, serverContext } from "./context-trust.js";
import { describeIdentities, matchIdentity } from "./identity.js";
import { NodeSecureChannel, type PeerCertificateSource } from "./secure-channel.js";
import { warmHandshake } from "./warm-handshake.js";

/** What the provider needs from the configuration (the `[s2s]` TLS keys), plus knobs for tests. */
export interface NodeTlsSettings {
  readonly mode: StartTlsMode;
  /** Absolute path of the default certificate (PEM: certificate, chain, and the unencrypted key unless `keyfile`). */
  readonly certfile?: string;
  /** Absolute path of the default certificate's private key, when it is not in `certfile`. */
  readonly keyfile?: string;
  readonly domainCertfile: readonly DomainCertfileEntry[];
  /** Absolute path of extra trusted CAs, added to the system roots. */
  readonly cacertfile?: string;
  /** OpenSSL cipher list (TLS 1.2 suites; TLS 1.3 suites stay on: OpenSSL sets them apart, `TLSv1.3` in this list matches nothing). */
  readonly ciphers: string;
  /** Milliseconds a TLS handshake may take. Default 30000. */
  readonly handshakeTimeoutMs?: number;
  /** Trust the roots Node ships (`tls.rootCertificates`). Default true. */
  readonly systemRoots?: boolean;
  /** Time source for certificate validity (milliseconds since the epoch). Default `Date.now`. */
  readonly now?: () => number;
  /** Handshake deadlines run on it (core/clock/clock.ts). Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Whether an inbound handshake asks for the peer's certificate when `use_starttls` is not
   * "required_trusted" (which always asks). Asking costs native memory per link (roughly 10-15
   * KiB, docs/performance.md), so the plugin asks only when an enabled authenticator uses it.
   * Default: always ask.
   */
  readonly clientCertificates?: () => boolean;
}

export function settingsFromConfig(config: S2sConfig): NodeTlsSettings {
  const s2s = config.s2s;
  return { mode: s2s.useStarttls, certfile: s2s.certfile, keyfile: s2s.keyfile, domainCertfile: s2s.domainCertfile, cacertfile: s2s.cacertfile, ciphers: s2s.ciphers };
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * What OpenSSL says of a client certificate without the clientAuth EKU. Node 20 maps
 * X509_V_ERR_INVALID_PURPOSE to INVALID_PURPOSE; the other spelling is the name some OpenSSL
 * builds print for the same check (kept so a runtime upgrade cannot silently turn the feature off).
 */
const PURPOSE_ERRORS: ReadonlySet<string> = new Set(["INVALID_PURPOSE", "UNSUPPORTED_CERTIFICATE_PURPOSE"]);

/** A certificate we present: the combined PEM file split into its parts. */
interface Identity {
  readonly path: string;
  /** Leaf then chain, PEM. */
  readonly certPem: string;
  readonly keyPem: string;
  readonly leaf: X509Certificate;
}

/** An immutable snapshot of the certificate files and everything built from them; `reload` swaps it whole. */
class Material {
  /** For our own chain check (chain.ts): system roots + cacertfile. */
  readonly trust: TrustStore;
  readonly #contexts = new Map<Identity | undefined, tls.SecureContext>();
  readonly #servers = new Map<Identity, tls.Server>();

  constructor(
    readonly defaultCert: Identity | undefined,
    readonly domainCerts: ReadonlyMap<string, Identity>,
    caPems: readonly string[],
    /** How OpenSSL's contexts get the same trust store, without listing it in CertificateRequests. */
    readonly contextTrust: ContextTrust,
    private readonly ciphers: string,
    private readonly newServer: (options: tls.TlsOptions) => tls.Server,
  ) {
    this.trust = new TrustStore(caPems);
  }

  /** `domain_certfile` entry for the domain, else `certfile`. */
  certFor(domain: string): Identity | undefined {
    return this.domainCerts.get(domain) ?? this.defaultCert;
  }

  /**
   * One secure context per certificate (and one without, for outbound streams of domains we have
   * no certificate for), built on first use. The trust store is in EVERY context: with SNI,
   * OpenSSL verifies client certificates against the store of the context SNI selected, not
   * the server's; and every context lists no CA, or only cacertfile's (context-trust.ts).
   */
  contextFor(identity: Identity | undefined): tls.SecureContext {
    let context = this.#contexts.get(identity);
    if (!context) {
      context = this.contextTrust.complete(tls.createSecureContext({ ...this.#baseOptions(), ...(identity ? { cert: identity.certPem, key: identity.keyPem } : {}) }));
      this.#contexts.set(identity, context);
    }
    return context;
  }

  /**
   * The server side of a handshake runs in a non-listening `tls.Server` fed with
   * `emit("connection", socket)`: a hand-made server `TLSSocket` never sets `authorized` for client
   * certificates (node 20: `authorized` and `authorizationError` stay unset). One server per default certificate, reused for every connection.
   */
  serverFor(identity: Identity): tls.Server {
    let server = this.#servers.get(identity);
    if (!server) {
      server = this.newServer({
        ...this.#baseOptions(),
        cert: identity.certPem,
        key: identity.keyPem,
        // Ask for the peer's certificate but never fail the handshake on it: checkPeer and the
        // authenticators decide what an untrusted or mismatching certificate means (RFC 6120 §13.7.2).
        requestCert: true,
        rejectUnauthorized: false,
        // Node's own handshake timer off: acceptInbound runs ours with the same deadline (and says
        // what happened in our words). Node's would keep its Timeout, cleared, on every TLSSocket
        // for the life of the link (~0.2 KiB, docs/performance.md "Memory"). A TLSSocket starts it
        // only for a positive value; 0 would mean Node's default (120 s), hence -1.
        handshakeTimeout: -1,
        SNICallback: (servername, callback) => {
          // XEP-0368 / RFC 6066: the certificate of the domain the peer asked for.
          const name = servername.toLowerCase().replace(/\.$/, "");
          const chosen = this.domainCerts.get(name) ?? this.defaultCert ?? identity;
          // Same certificate as this server's own: keep its default context. Switching the
          // connection to another context (even an equal one) costs ~120 KiB of native memory per
          // link (measured by the bench, docs/performance.md).
          callback(null, chosen === identity ? undefined : this.contextFor(chosen));
        },
      });
      this.contextTrust.complete(serverContext(server));
      this.#servers.set(identity, server);
    }
    return server;
  }

  /**
   * Build every context and server now rather than on the first handshake (parsing a certificate
   * and key, and with cacertfile copying the root store), then do one handshake with ourselves
   * (warm-handshake.ts): all of it work the first message on a fresh link would otherwise wait for.
   */
  warm(handshakeTimeoutMs: number): Promise<"done" | "failed" | "no certificate"> {
    warmIpRegExps();
    this.contextFor(this.defaultCert);
    for (const identity of new Set([this.defaultCert, ...this.domainCerts.values()])) {
      if (!identity) continue;
      this.contextFor(identity);
      this.serverFor(identity);
    }
    const identity = this.defaultCert ?? this.domainCerts.values().next().value;
    if (!identity) return Promise.resolve("no certificate");
    return warmHandshake(this.contextFor(identity), this.serverFor(identity), handshakeTimeoutMs);
  }

  #baseOptions(): tls.SecureContextOptions {
    return this.contextTrust.options(this.ciphers);
  }
}

/**
 * node:net's `isIP` tests a domain name against a large IPv6 regular expression, which V8 compiles
 * on the first call (~6 ms here) and again to machine code on the second (~2 ms). The first link
 * of a process makes both calls on its critical path, on each side: the DNS plugin checks its SRV
 * targets, `tls.connect` and our SNI choice check the peer's domain. Two calls at start-up pay
 * that once, off the path of the first message (docs/performance.md, "First message").
 */
function warmIpRegExps(): void {
  for (let i = 0; i < 2; i++) isIP("warm-up.invalid");
}

interface PendingHandshake {
  secure(socket: tls.TLSSocket): void;
  fail(err: Error): void;
}

/**
 * The TLS slot on node:tls: STARTTLS and direct TLS in both directions, one certificate per local
 * domain with SNI, a trust store of system roots plus `s2s.cacertfile`, and RFC 6125 identity checks
 * (RFC 6120 §5, §13.7.1.2; XEP-0178; XEP-0368).
 */
export class NodeTlsProvider implements TlsProvider {
  readonly mode: StartTlsMode;
  #material: Material;
  /** Inbound handshakes in progress, by the raw socket the server's TLSSocket wraps (`#pendingFor`). */
  readonly #pending = new Map<Socket, PendingHandshake>();
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #clock: Clock;

  constructor(
    private readonly settings: NodeTlsSettings,
    private readonly logger?: Logger,
  ) {
    this.mode = settings.mode;
    this.#timeoutMs = settings.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#now = settings.now ?? Date.now;
    this.#clock = settings.clock ?? systemClock;
    this.#material = this.#load();
    if (this.mode !== "false") {
      // Off the start-up path, but before the first peer usually arrives.
      const material = this.#material;
      setImmediate(() => {
        void material.warm(this.#timeoutMs).then((outcome) => this.logger?.debug({ what: "tls_warmed", outcome }));
      }).unref();
    }
  }

  offersStartTls(localDomain: string): boolean {
    return this.mode !== "false" && this.hasCertificateFor(localDomain);
  }

  hasCertificateFor(localDomain: string): boolean {
    return this.#material.certFor(localDomain.toLowerCase()) !== undefined;
  }

  async reload(): Promise<void> {
    // Build everything before swapping: a broken file leaves the running certificates in place.
    this.#material = this.#load();
    this.logger?.info({ what: "tls_reloaded", certfile: this.settings.certfile, domains: [...this.#material.domainCerts.keys()] });
  }

  acceptInbound(socket: Socket, hintDomain?: string): Promise<SecureChannel> {
    const material = this.#material;
    const hint = hintDomain?.toLowerCase();
    const identity = (hint !== undefined ? material.domainCerts.get(hint) : undefined) ?? material.defaultCert ?? material.domainCerts.values().next().value;
    // The TLS socket reports errors; the raw one must never crash the process. Not a second
    // listener where the caller keeps one already (the S2S listener's, for the link's life): with
    // Node's own, a third listener makes the list a 20-slot array held by every link.
    if (socket.listenerCount("error") === 0) socket.on("error", noop);
    if (!identity) {
      socket.destroy();
      return Promise.reject(new S2sError(ERROR_CODES.TLS_FAILED, "no certificate configured (s2s.certfile or s2s.domain_certfile)"));
    }
    if (socket.destroyed || socket.remoteAddress === undefined || this.#pending.has(socket)) {
      socket.destroy();
      return Promise.reject(new S2sError(ERROR_CODES.TLS_FAILED, "connection closed before the TLS handshake"));
    }
    const server = material.serverFor(identity);
    return new Promise<SecureChannel>((resolve, reject) => {
      let tlsSocket: tls.TLSSocket | undefined;
      const done = () => {
        timer.cancel();
        this.#pending.delete(socket);
      };
      const fail = (err: Error) => {
        done();
        tlsSocket?.destroy();
        socket.destroy();
        reject(err instanceof S2sError ? err : new S2sError(ERROR_CODES.TLS_FAILED, `TLS handshake failed: ${err.message}`, undefined, { cause: err }));
      };
      const timer = this.#clock.timer(this.#timeoutMs, () => fail(new S2sError(ERROR_CODES.TIMEOUT, `TLS handshake not completed within ${this.#timeoutMs} ms`, "connection-timeout")));
      // A connection that closes (or fails) before the handshake is done reaches `fail` through
      // the server's tlsClientError (#newServer): Node's server-side TLSSocket reports its close
      // before the handshake as ECONNRESET there. No listener of ours on the raw socket for it:
      // with the connection limit's and Node's own, a third one turned the list into a 20-slot
      // array that every link kept (~0.15 KiB, docs/performance.md "Memory").
      this.#pending.set(socket, {
        fail,
        secure: (secured) => {
          tlsSocket = secured;
          const channel = this.#channel(secured, material, "inbound");
          // use_starttls = "required_trusted": a peer without a certificate we trust gets nothing
          // further (MongooseIM accepts one that sends no certificate at all). Which
          // domain the certificate must name is known only later, from the stream or the
          // authentication; checkPeer does that part.
          if (this.mode === "required_trusted" && !channel.chainTrusted) {
            fail(new S2sError(ERROR_CODES.TLS_FAILED, `peer certificate not trusted (use_starttls = "required_trusted"): ${channel.chainError}`, "policy-violation"));
            return;
          }
          done();
          resolve(channel);
        },
      });
      server.emit("connection", socket);
    });
  }

  connectOutbound(socket: Socket, localDomain: string, remoteDomain: string): Promise<SecureChannel> {
    const material = this.#material;
    const identity = material.certFor(localDomain.toLowerCase());
    socket.on("error", noop);
    return new Promise<SecureChannel>((resolve, reject) => {
      const secured = tls.connect({
        socket,
        // RFC 6120 §13.7.2.1 / XEP-0368: SNI is the domain we want to talk to (never an IP literal, RFC 6066 §3).
        servername: isIP(remoteDomain.replace(/^\[|\]$/g, "")) === 0 ? remoteDomain : undefined,
        secureContext: material.contextFor(identity),
        // We decide after the handshake (checkPeer, use_starttls); Node's own host check knows
        // neither SRV-IDs nor XmppAddr, and mixes identity into `authorized`: turned off.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      const fail = (err: Error) => {
        timer.cancel();
        secured.destroy();
        socket.destroy();
        reject(err instanceof S2sError ? err : new S2sError(ERROR_CODES.TLS_FAILED, `TLS handshake with ${remoteDomain} failed: ${err.message}`, undefined, { cause: err }));
      };
      const onError = (err: Error) => fail(err);
      const onClose = () => fail(new S2sError(ERROR_CODES.TLS_FAILED, `${remoteDomain} closed the connection during the TLS handshake`));
      const timer = this.#clock.timer(this.#timeoutMs, () => fail(new S2sError(ERROR_CODES.TIMEOUT, `TLS handshake with ${remoteDomain} not completed within ${this.#timeoutMs} ms`, "remote-server-timeout")));
      secured.once("error", onError);
      secured.once("close", onClose);
      secured.once("secureConnect", () => {
        timer.cancel();
        secured.off("error", onError);
        secured.off("close", onClose);
        secured.on("error", noop); // until the stream attaches its own handlers
        resolve(this.#channel(secured, material, "outbound", localDomain, remoteDomain));
      });
    });
  }

  checkPeer(channel: SecureChannel, domain: string): PeerIdentityCheck {
    const cert = channel.peerCertificate;
    if (!cert) return { trusted: false, reason: "no certificate" };
    const now = this.#now();
    if (now > Date.parse(cert.validTo)) return { trusted: false, reason: "certificate expired" };
    if (now < Date.parse(cert.validFrom)) return { trusted: false, reason: "certificate not yet valid" };
    if (!channel.chainTrusted) return { trusted: false, reason: `certificate not trusted: ${channel.chainError ?? "unknown error"}` };
    if (matchIdentity(cert, domain) === undefined) {
      return { trusted: false, reason: `certificate does not match ${domain} (it names ${describeIdentities(cert)})` };
    }
    return { trusted: true };
  }

  /** Builds the channel: the peer's chain read once (when it is needed), before the leaf. */
  #channel(socket: tls.TLSSocket, material: Material, direction: "inbound" | "outbound", local?: string, remote?: string): SecureChannel {
    // Node 20's getPeerX509Certificate() takes certificates out of the chain OpenSSL holds (the
    // leaf on a client socket, the rest on a server socket): every read of the chain comes first.
    let chain: X509Certificate[] | undefined;
    let der: Buffer | undefined;
    const purposeOnly = direction === "inbound" && !socket.authorized && PURPOSE_ERRORS.has(String(socket.authorizationError));
    if (purposeOnly) {
      const detail = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
      chain = chainFromDetailed(detail);
    } else if (direction === "outbound") {
      // The leaf's DER only: the abbreviated form reads it in place, where the detailed one first
      // copies every certificate of the chain (OpenSSL 3.0 re-decodes each copy: ~0.2-0.5 ms per
      // certificate on a fresh process, on every outbound handshake).
      der = (socket.getPeerCertificate(false) as tls.PeerCertificate | undefined)?.raw;
    }
    // Server side: the leaf stays where OpenSSL keeps it anyway and is read from there through a
    // wrapper of OpenSSL's own parsed copy (secure-channel.ts). Client side: only its DER is kept.
    const leaf = direction === "inbound" ? socket.getPeerX509Certificate() : undefined;
    const source: PeerCertificateSource = direction === "inbound" ? (leaf ? "connection" : undefined) : der;
    let chainTrusted: boolean;
    let chainError: string | undefined;
    if (!source) {
      chainTrusted = false;
      chainError = "no certificate";
    } else if (socket.authorized) {
      chainTrusted = true;
    } else if (chain) {
      // A server certificate without clientAuth, presented as a client certificate: accepted when
      // otherwise valid, as Prosody 13 and ejabberd do. OpenSSL reports only its last
      // error, so its verdict cannot be trusted here: verify the chain ourselves (chain.ts).
      const verdict = chain[0] ? verifyChain(chain[0], chain.slice(1), material.trust, this.#now()) : { trusted: false, error: "no certificate" };
      chainTrusted = verdict.trusted;
      chainError = verdict.error;
      this.logger?.debug({ what: "tls_peer_without_client_auth", subject: chain[0]?.subject, chainTrusted, chainError });
    } else {
      chainTrusted = false;
      chainError = String(socket.authorizationError ?? "unknown error");
    }
    const servername = direction === "inbound" && typeof socket.servername === "string" ? socket.servername : undefined;
    this.logger?.debug({ what: "tls_handshake_done", direction, local, remote, servername, protocol: socket.getProtocol(), cipher: socket.getCipher()?.name, chainTrusted, chainError });
    return new NodeSecureChannel(socket, source, leaf, chainTrusted, chainError, servername);
  }

  /** A shared server (Material.serverFor) hands each finished handshake back to its acceptInbound call. */
  #newServer(options: tls.TlsOptions): tls.Server {
    const requestCert = this.mode === "required_trusted" || (this.settings.clientCertificates?.() ?? true);
    const server = tls.createServer({ ...options, requestCert });
    server.on("secureConnection", (secured: tls.TLSSocket) => {
      const pending = this.#pendingFor(secured);
      if (pending) pending.secure(secured);
      else secured.destroy();
    });
    server.on("tlsClientError", (err: Error, secured: tls.TLSSocket) => {
      const pending = this.#pendingFor(secured);
      secured.destroy();
      pending?.fail(err);
    });
    return server;
  }

  /**
   * The handshake a server's TLSSocket belongs to. Node's TLSSocket keeps the socket it wraps as
   * `_parent` (lib/_tls_wrap.js; not in its documentation, hence the fallback): reading it costs
   * nothing, where matching by TCP 4-tuple made Node cache four address objects on the two sockets
   * for the life of every link (~0.3 KiB, docs/performance.md "Memory"). Fallback for a Node
   * without it: the 4-tuple, compared with each handshake in progress.
   */
  #pendingFor(secured: tls.TLSSocket): PendingHandshake | undefined {
    const parent = (secured as unknown as { _parent?: unknown })._parent;
    if (parent instanceof Socket) return this.#pending.get(parent);
    const key = tupleKey(secured);
    if (key === undefined) return undefined;
    for (const [raw, pending] of this.#pending) if (tupleKey(raw) === key) return pending;
    return undefined;
  }

  #load(): Material {
    const s = this.settings;
    const problems: string[] = [];
    const identity = (path: string, keyfile: string | undefined, where: string): Identity | undefined => {
      const loaded = loadCertificateWithKey(path, keyfile);
      if ("error" in loaded) {
        problems.push(`${where}.${loaded.in}: ${loaded.error}${loaded.detail ? ` (${loaded.detail})` : ""}`);
        return undefined;
      }
      return { path, certPem: loaded.ok.certPem, keyPem: loaded.ok.keyPem, leaf: loaded.ok.leaf };
    };
    const defaultCert = s.certfile !== undefined ? identity(s.certfile, s.keyfile, "s2s") : undefined;
    const domainCerts = new Map<string, Identity>();
    s.domainCertfile.forEach((entry, i) => {
      const loaded = identity(entry.certfile, entry.keyfile, `s2s.domain_certfile[${i}]`);
      if (loaded) domainCerts.set(entry.domain.toLowerCase(), loaded);
    });
    const systemRoots = s.systemRoots !== false;
    const extraPems: string[] = [];
    if (s.cacertfile !== undefined) {
      const cas = loadCaCertificates(s.cacertfile);
      if ("error" in cas) problems.push(`s2s.cacertfile: ${cas.error}`);
      else extraPems.push(...cas.ok.map((c) => c.toString()));
    }
    if (problems.length > 0) throw new ConfigError(problems);
    const contextTrust = new ContextTrust(systemRoots, extraPems);
    if (contextTrust.listsSystemRoots) {
      this.logger?.warn({ what: "tls_ca_list_full", reason: "this Node has no SecureContext#addCACert: CertificateRequests list every system root (~14 KB)" });
    }
    const caPems = [...(systemRoots ? [...tls.rootCertificates, ...nodeExtraCaPems()] : []), ...extraPems];
    return new Material(defaultCert, domainCerts, caPems, contextTrust, s.ciphers, (options) => this.#newServer(options));
  }
}

/**
 * NODE_EXTRA_CA_CERTS: Node put these in its root store at start-up, which OpenSSL verifies
 * against (context-trust.ts); our own chain check gets them too, so both verdicts share their
 * anchors. A file Node could not read was already reported by Node and is skipped here.
 */
function nodeExtraCaPems(): string[] {
  const path = process.env.NODE_EXTRA_CA_CERTS;
  if (!path) return [];
  const loaded = loadCaCertificates(path);
  return "error" in loaded ? [] : loaded.ok.map((c) => c.toString());
}

function noop(): void {}

function tupleKey(socket: Socket): string | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined) return undefined;
  return `${remoteAddress}|${remotePort}|${localAddress}|${localPort}`;
}
