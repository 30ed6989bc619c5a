import {
  type Authenticator,
  definedCondition,
  domainOf,
  el,
  type InboundStreamApi,
  type Logger,
  NS,
  type OutboundAuthResult,
  type OutboundStreamApi,
  type TlsProvider,
  type XmlElement,
} from "../../core/index.js";

export const MECHANISM = "EXTERNAL";
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface SaslExternalOptions {
  /** The TLS provider, looked up at first use (the TLS slot may be registered after this plugin). */
  readonly tls: () => TlsProvider;
  readonly logger?: Logger;
  /** Milliseconds to wait for `<success/>` or `<failure/>` outbound. Default 30000. */
  readonly timeoutMs?: number;
}

/** RFC 4648 §4 base64 with padding, as RFC 6120 §6.4.2 requires for SASL data. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * SASL EXTERNAL between servers (XEP-0178, RFC 6120 §6): the TLS client certificate proves the
 * sending domain. Offered inbound only on a TLS stream whose peer certificate is trusted for the
 * domain the stream header claims, never over plaintext (XEP-0178: EXTERNAL rests on the TLS certificate; MongooseIM offers it there);
 * every success goes through the policy chain (MongooseIM lets EXTERNAL bypass host_policy).
 * A failure keeps the stream open so the peer can fall back to dialback on it (XEP-0178 §3 note,
 * Prosody's behaviour), and outbound we fall back the same way.
 */
export class SaslExternalAuthenticator implements Authenticator {
  readonly name = "sasl_external";
  readonly usesPeerCertificate = true;
  readonly #timeoutMs: number;
  #tls?: TlsProvider;
  /** Streams with an `<auth/>` being decided (policy is asynchronous). */
  readonly #inProgress = new WeakSet<InboundStreamApi>();

  constructor(private readonly options: SaslExternalOptions) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  get #provider(): TlsProvider {
    return (this.#tls ??= this.options.tls());
  }

  inboundFeatures(stream: InboundStreamApi): XmlElement[] {
    const remote = stream.headerFrom;
    // RFC 6120 §6.4.6: after SASL success the restarted stream offers no mechanisms.
    if (!stream.tls || remote === undefined || stream.isAuthenticated(remote, stream.localDomain)) return [];
    // XEP-0178 §3 / RFC 6120 §13.7.2: offer EXTERNAL only when the certificate already proves the
    // claimed domain; otherwise the peer goes straight to dialback instead of failing here first.
    if (!this.#provider.checkPeer(stream.tls, remote).trusted) return [];
    return [el("mechanisms", {}, NS.SASL, el("mechanism", {}, NS.SASL, MECHANISM))];
  }

  handleInbound(stream: InboundStreamApi, element: XmlElement): boolean {
    if (element.ns !== NS.SASL) return false;
    if (element.name === "abort") {
      // RFC 6120 §6.4.4: an abort is answered with <aborted/>.
      stream.send(failure("aborted"));
      return true;
    }
    if (element.name !== "auth") {
      // EXTERNAL has no challenges (RFC 4422 App. A), so a <response/> or anything else is out of place.
      stream.send(failure("malformed-request"));
      return true;
    }
    if (!stream.tls) {
      // RFC 6120 §6.5.3: EXTERNAL needs the TLS layer; we never authenticate over plaintext.
      stream.send(failure("encryption-required"));
      return true;
    }
    if (element.attr("mechanism") !== MECHANISM) {
      stream.send(failure("invalid-mechanism"));
      return true;
    }
    if (this.#inProgress.has(stream)) {
      stream.send(failure("malformed-request", "an authentication exchange is already in progress"));
      return true;
    }
    const authzid = decodeAuthzid(element.text().trim());
    if (authzid === null) {
      // RFC 6120 §6.5.2: the data is not valid base64.
      stream.send(failure("incorrect-encoding"));
      return true;
    }
    const local = stream.localDomain;
    const claimed = stream.headerFrom;
    // XEP-0178 §3: an empty response ("=") means "derive the identity": the stream header's 'from'.
    const remote = authzid === "" ? claimed : domainOf(authzid);
    if (remote === undefined || remote === "" || (claimed !== undefined && remote !== claimed) || authzid.includes("@") || authzid.includes("/") || stream.isLocalDomain(remote)) {
      // RFC 6120 §6.5.6: an authzid we cannot accept (absent, not a domain, not what the header
      // said, or one of ours).
      this.#log(local, remote ?? authzid, "invalid authzid");
      stream.send(failure("invalid-authzid"));
      return true;
    }
    const check = this.#provider.checkPeer(stream.tls, remote);
    if (!check.trusted) {
      // XEP-0178 §3: not-authorized, and the stream stays open for dialback.
      this.#log(local, remote, check.reason ?? "certificate not valid");
      stream.send(failure("not-authorized", check.reason));
      return true;
    }
    this.#inProgress.add(stream);
    void this.#accept(stream, remote, local).finally(() => this.#inProgress.delete(stream));
    return true;
  }

  async #accept(stream: InboundStreamApi, remote: string, local: string): Promise<void> {
    // The certificate was checked above; the stream engine runs policy before it accepts the claim
    // (MongooseIM lets EXTERNAL bypass host_policy); on deny it closes the stream itself.
    if ((await stream.authenticate({ remote, local, method: this.name }, () => true)) !== "authenticated") return;
    // RFC 6120 §6.4.6: the peer restarts the stream right after <success/>; the fresh parser must
    // be in place before the first byte of the new header can arrive, so restart, then send.
    stream.expectRestart();
    stream.send(el("success", {}, NS.SASL));
  }

  async authenticateOutbound(stream: OutboundStreamApi, features: XmlElement): Promise<OutboundAuthResult> {
    const { localDomain: local, remoteDomain: remote } = stream;
    const mechanisms = features.getChild("mechanisms", NS.SASL);
    if (!mechanisms?.getChildren("mechanism", NS.SASL).some((m) => m.text().trim() === MECHANISM)) {
      return { outcome: "unavailable", reason: `${remote} does not offer SASL EXTERNAL` };
    }
    // Never over plaintext (XEP-0178: EXTERNAL rests on the TLS certificate; MongooseIM classic may offer it on a plaintext stream).
    if (!stream.tls) return { outcome: "unavailable", reason: "the stream is not encrypted" };
    if (!this.#provider.hasCertificateFor(local)) return { outcome: "unavailable", reason: `no certificate for ${local}` };
    // XEP-0178 §3: the authorization identity is the sending domain.
    stream.send(el("auth", { mechanism: MECHANISM }, NS.SASL, Buffer.from(local, "utf8").toString("base64")));
    let answer: XmlElement;
    try {
      answer = await stream.next((e) => e.ns === NS.SASL && (e.name === "success" || e.name === "failure"), this.#timeoutMs);
    } catch (err) {
      // No answer: the stream's state is unknown, nothing else can run on it.
      return { outcome: "failed", reason: `no SASL answer from ${remote}: ${(err as Error).message}`, fatal: true, condition: "remote-server-timeout" };
    }
    if (answer.name === "failure") {
      const condition = saslCondition(answer);
      const text = answer.getChildText("text", NS.SASL);
      // XEP-0178 §3 note: the stream is still usable; the next authenticator (dialback) may try.
      return { outcome: "failed", reason: `${remote} refused SASL EXTERNAL: ${condition}${text ? ` (${text})` : ""}`, fatal: false };
    }
    try {
      // RFC 6120 §6.4.6: after <success/> the initiating entity restarts the stream.
      await stream.restart();
    } catch (err) {
      return { outcome: "failed", reason: `stream restart after SASL success failed: ${(err as Error).message}`, fatal: true, condition: "remote-server-timeout" };
    }
    return { outcome: "authenticated" };
  }

  #log(local: string, remote: string, reason: string): void {
    this.options.logger?.info({ what: "auth_failed", direction: "inbound", method: this.name, local, remote, reason });
  }
}

/** RFC 6120 §6.4.5: `<failure/>` with a defined condition and optional text. */
function failure(condition: string, text?: string): XmlElement {
  return el("failure", {}, NS.SASL, el(condition, {}, NS.SASL), text !== undefined && el("text", { "xml:lang": "en" }, NS.SASL, text));
}

/** The authzid in an `<auth/>`: "" for an empty response ("=" or nothing), null when not base64 / UTF-8. */
export function decodeAuthzid(text: string): string | null {
  if (text === "" || text === "=") return "";
  if (!BASE64.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null; // `fatal` makes invalid UTF-8 throw, and that is its only failure: not UTF-8
  }
}

function saslCondition(failureElement: XmlElement): string {
  return definedCondition(failureElement, NS.SASL);
}
