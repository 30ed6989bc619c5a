import {
  type Authenticator,
  BurstLog,
  type Clock,
  type Cluster,
  type DialbackVerdict,
  type DialbackVerifier,
  type DialbackVerifyRequest,
  definedCondition,
  type DialbackKeys,
  domainOf,
  el,
  ERROR_CODES,
  type EventBus,
  type InboundStreamApi,
  isS2sError,
  type Logger,
  NS,
  type OutboundAuthResult,
  type OutboundSessions,
  type OutboundStreamApi,
  type S2sConfig,
  systemClock,
  type XmlElement,
} from "../../core/index.js";
import { DIALBACK_DEFAULTS, type DialbackOptions } from "./options.js";

type Verdict = DialbackVerdict;

/**
 * XEP-0220 Server Dialback in all three roles:
 * - originating (outbound): send `db:result` with our key, wait for valid/invalid/error (§2.1.1);
 * - receiving (inbound `db:result`): ask the authoritative server with `db:verify` over an outbound
 *   stream to it, reusing the pair's stream (§2.1.2, §2.3), then answer `db:result` (§2.2.1);
 * - authoritative (inbound `db:verify`): check the key and answer (§2.2.2).
 * In cluster mode the receiving role's db:verify leaves through the pair's owner node (its
 * DialbackVerifier side runs `verifyHere` for the others; docs/cluster.md#dialback).
 */
export class DialbackAuthenticator implements Authenticator, DialbackVerifier {
  readonly name = "dialback";
  /** Verifications under way per inbound stream: each costs a DNS lookup and maybe a connection. */
  readonly #verifying = new WeakMap<InboundStreamApi, number>();
  /** Verifications we asked for, per outbound stream (answers must come on the same stream, §2.1.2). */
  readonly #pending = new WeakMap<OutboundStreamApi, Map<string, (v: Verdict) => void>>();
  /** Verifications under way on all streams (each may be opening an outbound connection). */
  #verifyingTotal = 0;
  readonly #refusals: BurstLog;
  /** The cluster seam once looked up (absent on a single node: then nothing else is paid). */
  #cluster?: { readonly seam: Cluster | undefined };

  constructor(
    /** XEP-0185 keys from `s2s.shared` (read-only: tests check them). */
    readonly keys: DialbackKeys,
    /** Verification rides on the pair's outbound stream (§2.3); these sessions authenticate with this class too (the cycle core/server/compose.ts closes). */
    private readonly sessions: Pick<OutboundSessions, "openStream" | "prepare">,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    private readonly limits: DialbackOptions = DIALBACK_DEFAULTS,
    private readonly events?: EventBus,
    /** The verification deadline runs on it, so tests can move time (core/clock/virtual-clock.ts). */
    private readonly clock: Clock = systemClock,
    /** Cluster mode: the CLUSTER seam, looked up at the first verification (registered after this is built). */
    private readonly cluster: () => Cluster | undefined = () => undefined,
  ) {
    this.#refusals = new BurstLog(logger, "dialback_refused");
  }

  /**
   * Reload: the secrets of `s2s.shared` replace the keys' in place (rotation: the first signs, all
   * verify). A `db:result` sent before it is verified after it while its secret is still listed.
   */
  reload(next: S2sConfig): readonly string[] {
    return this.keys.replace?.(next.s2s.sharedSecrets) ? ["shared"] : [];
  }

  /** Verifications under way now, on all inbound streams. */
  get pendingVerifications(): number {
    return this.#verifyingTotal;
  }

  inboundFeatures(): XmlElement[] {
    // XEP-0220 §2.4.1: advertise dialback with error support.
    return [el("dialback", {}, NS.DIALBACK_FEATURE, el("errors", {}, NS.DIALBACK_FEATURE))];
  }

  /**
   * Receiving role, ahead of time: a peer that opens a stream claiming a domain (RFC 6120 §4.7.1
   * 'from') and sees dialback on offer usually sends `db:result` next, and verifying it starts
   * with resolving that domain (XEP-0220 §2.1.2, RFC 6120 §3.2). Resolving it now, while the peer
   * still reads our features and computes its key, takes the DNS round trips off the
   * verification's path. DNS only: nobody is contacted and nothing is authenticated before the
   * `db:result` and the policy.
   */
  inboundStreamOpened(stream: InboundStreamApi): void {
    const from = domainOf(stream.headerFrom);
    if (!from || !stream.localDomain || stream.isLocalDomain(from) || stream.isAuthenticated(from, stream.localDomain)) return;
    this.sessions.prepare?.(stream.localDomain, from);
  }

  handleInbound(stream: InboundStreamApi, element: XmlElement): boolean {
    if (element.ns !== NS.DIALBACK || (element.name !== "result" && element.name !== "verify")) return false;
    if (element.attr("type") !== undefined) {
      // XEP-0220 §2.2 and §4.1: typed results on an inbound stream are unsolicited answers (a spoofing vector).
      stream.fail("not-authorized", `unsolicited <db:${element.name} type='${element.attr("type")}'/> on an inbound stream`);
      return true;
    }
    const from = domainOf(element.attr("from"));
    const to = domainOf(element.attr("to"));
    if (!from || !to || (element.name === "verify" && !element.attr("id"))) {
      stream.fail("invalid-xml", `<db:${element.name}/> needs 'from', 'to'${element.name === "verify" ? " and 'id'" : ""}`);
      return true;
    }
    if (element.name === "verify") this.#answerVerify(stream, element, from, to);
    else void this.#receive(stream, element.text().trim(), from, to);
    return true;
  }

  /** Authoritative role (§2.2.2). */
  #answerVerify(stream: InboundStreamApi, request: XmlElement, receiving: string, originating: string): void {
    const id = request.attr("id")!;
    if (!stream.isLocalDomain(originating)) {
      stream.send(dialbackError("verify", { from: originating, to: receiving, id }, "item-not-found"));
      return;
    }
    const valid = this.keys.verify(receiving, originating, id, request.text());
    this.logger.debug({ what: "dialback_verify_answered", receiving, originating, valid });
    stream.send(el("verify", { from: originating, to: receiving, id, type: valid ? "valid" : "invalid" }, NS.DIALBACK));
  }

  /** Receiving role (§2.2.1): authorize, verify with the authoritative server, answer. */
  async #receive(stream: InboundStreamApi, key: string, originating: string, receiving: string): Promise<void> {
    if (!stream.isLocalDomain(receiving)) {
      // §2.2.1: not a stream error, other pairs may be in use on this stream.
      stream.send(dialbackError("result", { from: receiving, to: originating }, "item-not-found"));
      return;
    }
    if (stream.isAuthenticated(originating, receiving)) {
      stream.send(el("result", { from: receiving, to: originating, type: "valid" }, NS.DIALBACK));
      return;
    }
    if (!key) {
      stream.send(dialbackError("result", { from: receiving, to: originating }, "not-acceptable"));
      return;
    }
    const inFlight = this.#verifying.get(stream) ?? 0;
    const overStream = inFlight >= this.limits.maxPendingPerStream;
    if (overStream || this.#verifyingTotal >= this.limits.maxPending) {
      // XEP-0220 §2.4: resource-constraint (type wait). One peer, or a flood of db:result from
      // thousands of claimed domains, must not make us resolve and dial that many servers at once.
      const reason = overStream ? `more than ${this.limits.maxPendingPerStream} verifications pending on this stream` : `more than ${this.limits.maxPending} verifications pending in total`;
      this.#refusals.hit({ local: receiving, remote: originating, streamId: stream.id, reason });
      this.events?.emit({ type: "dialback_refused", local: receiving, remote: originating, condition: "resource-constraint", reason });
      stream.send(dialbackError("result", { from: receiving, to: originating }, "resource-constraint", "wait"));
      return;
    }
    // Counted before the first await: several db:result in one TCP segment are handled in one go.
    this.#verifying.set(stream, inFlight + 1);
    this.#verifyingTotal++;
    // Set by the proof below; a refusal by the engine returns before it is read.
    let verdict = { error: "remote-server-timeout" } as Verdict;
    let outcome;
    try {
      // The stream engine runs policy first (nobody is contacted for a denied domain), then this
      // proof: the authoritative server's answer (§2.2.1).
      outcome = await stream.authenticate({ remote: originating, local: receiving, method: "dialback" }, async () => {
        verdict = await this.#askAuthoritative(receiving, originating, stream.id, key);
        return verdict === "valid";
      });
    } finally {
      this.#verifying.set(stream, (this.#verifying.get(stream) ?? 1) - 1);
      this.#verifyingTotal--;
    }
    if (outcome === "refused") return;
    if (outcome === "authenticated") {
      stream.send(el("result", { from: receiving, to: originating, type: "valid" }, NS.DIALBACK));
    } else if (verdict === "invalid") {
      // §2.2.1: an invalid key is a spoofing attempt: say so and close the stream.
      this.logger.info({ what: "auth_failed", direction: "inbound", method: "dialback", local: receiving, remote: originating, reason: "invalid dialback key" });
      stream.send(el("result", { from: receiving, to: originating, type: "invalid" }, NS.DIALBACK));
      stream.fail("not-authorized", `dialback key for '${originating}' is invalid`);
    } else if (typeof verdict === "object") {
      // §2.4: trouble reaching the authoritative server is a non-fatal dialback error.
      stream.send(dialbackError("result", { from: receiving, to: originating }, verdict.error, verdict.error === "resource-constraint" ? "wait" : "cancel"));
    }
  }

  async #askAuthoritative(receiving: string, originating: string, streamId: string, key: string): Promise<Verdict> {
    const request: DialbackVerifyRequest = { local: receiving, remote: originating, id: streamId, key };
    // Cluster mode: at most one outbound stream per pair in the cluster, so the db:verify goes
    // through the pair's owner (§2.3: verification reuses the pair's stream) unless this node is it.
    const cluster = (this.#cluster ??= { seam: this.cluster() }).seam;
    if (cluster?.verifyDialback) {
      const relayed = await cluster.verifyDialback(request, this.timeoutMs);
      if (relayed !== undefined) return relayed;
    }
    return this.verifyHere(request);
  }

  /** Receiving role, on this node's own outbound stream for the pair (§2.1.2, §2.3); also run for other cluster nodes as the pair's owner. */
  async verifyHere({ local: receiving, remote: originating, id: streamId, key }: DialbackVerifyRequest): Promise<Verdict> {
    let outbound: OutboundStreamApi;
    try {
      outbound = await this.sessions.openStream(receiving, originating);
    } catch (err) {
      this.logger.info({ what: "dialback_verify_failed", local: receiving, remote: originating, reason: (err as Error).message });
      // Our own outbound session limit: "try later", not "not found".
      if (isS2sError(err) && err.code === ERROR_CODES.LIMIT_REACHED) return { error: "resource-constraint" };
      // §2.4: an error reaching the authoritative server (step 3) is reported as remote-server-not-found.
      return { error: "remote-server-not-found" };
    }
    let pending = this.#pending.get(outbound);
    if (!pending) this.#pending.set(outbound, (pending = new Map()));
    const slot = `${receiving} ${originating} ${streamId}`;
    const answer = new Promise<Verdict>((resolve) => {
      const timer = this.clock.timer(this.timeoutMs, () => resolve({ error: "remote-server-timeout" }));
      pending!.set(slot, (v) => {
        timer.cancel();
        resolve(v);
      });
    });
    outbound.send(el("verify", { from: receiving, to: originating, id: streamId }, NS.DIALBACK, key));
    // §2.1.2: a connection closed with requests pending fails them now, like an error answer.
    void outbound.whenClosed().then(() => pending.get(slot)?.({ error: "remote-server-timeout" }));
    const verdict = await answer;
    pending.delete(slot);
    return verdict;
  }

  handleOutbound(stream: OutboundStreamApi, element: XmlElement): boolean {
    if (element.ns !== NS.DIALBACK) return false;
    if (element.name === "verify") {
      const slot = `${domainOf(element.attr("to"))} ${domainOf(element.attr("from"))} ${element.attr("id")}`;
      const resolve = this.#pending.get(stream)?.get(slot);
      const type = element.attr("type");
      if (!resolve) {
        // §2.1.2: an answer with no matching request is dropped (and logged: it may be an attack).
        this.logger.info({ what: "dialback_unsolicited", remote: stream.remoteDomain, from: element.attr("from"), to: element.attr("to") });
        return true;
      }
      if (type === "valid" || type === "invalid") resolve(type);
      else resolve({ error: errorCondition(element) === "item-not-found" ? "remote-server-not-found" : "remote-server-timeout" });
      return true;
    }
    if (element.name === "result") {
      const from = domainOf(element.attr("from"));
      const to = domainOf(element.attr("to"));
      if (element.attr("type") === undefined && from && to) {
        // A request on our outbound stream: a XEP-0288 peer multiplexing another of its domains (§2.2).
        // We do not verify on this stream; a dialback error (§2.4) tells it so, the stream stays up.
        this.logger.info({ what: "dialback_request_refused", remote: stream.remoteDomain, from, to, reason: "no dialback verification on our outbound streams" });
        stream.send(dialbackError("result", { from: to, to: from }, "not-acceptable"));
        return true;
      }
      this.logger.info({ what: "dialback_unsolicited", remote: stream.remoteDomain, from: element.attr("from"), to: element.attr("to") });
      return true;
    }
    return false;
  }

  /** Originating role (§2.1.1). */
  async authenticateOutbound(stream: OutboundStreamApi, features: XmlElement): Promise<OutboundAuthResult> {
    const { localDomain: local, remoteDomain: remote } = stream;
    if (!stream.id) return { outcome: "unavailable", reason: "peer sent no stream id" };
    // XEP-0220 §2.4.1: peers advertise dialback. One that offers SASL but not dialback is in
    // certificate-only mode (e.g. Prosody with s2s_secure_auth); one that offers neither may be an
    // older server that supports dialback without saying so, so it is still tried.
    if (!features.getChild("dialback", NS.DIALBACK_FEATURE) && features.getChild("mechanisms", NS.SASL)) {
      return { outcome: "unavailable", reason: `${remote} does not offer dialback (certificate authentication only)` };
    }
    stream.send(el("result", { from: local, to: remote }, NS.DIALBACK, this.keys.generate(remote, local, stream.id)));
    let answer: XmlElement;
    try {
      answer = await stream.next((e) => e.name === "result" && e.ns === NS.DIALBACK && domainOf(e.attr("from")) === remote && domainOf(e.attr("to")) === local && e.attr("type") !== undefined, this.timeoutMs);
    } catch (err) {
      // No answer in time: the peer was reached but never became usable. A stream error instead
      // (e.g. invalid-from from a policy refusal) is a refusal: not found, not "try later".
      const timedOut = isS2sError(err) && err.code === ERROR_CODES.TIMEOUT;
      return { outcome: "failed", reason: (err as Error).message, fatal: true, condition: timedOut ? "remote-server-timeout" : "remote-server-not-found" };
    }
    const type = answer.attr("type");
    if (type === "valid") return { outcome: "authenticated" };
    if (type === "invalid") return { outcome: "failed", reason: `${remote} rejected our dialback key`, fatal: true };
    // §2.4: a dialback error is not fatal for the stream, but queued stanzas bounce with remote-server-timeout.
    return { outcome: "failed", reason: `dialback error from ${remote}: ${errorCondition(answer)}`, fatal: false, condition: "remote-server-timeout" };
  }
}

function dialbackError(name: "result" | "verify", attrs: Record<string, string>, condition: string, type: "cancel" | "wait" = "cancel"): XmlElement {
  // §2.4: the <error/> child is qualified by jabber:server, its condition by the stanza-error namespace.
  return el(name, { ...attrs, type: "error" }, NS.DIALBACK, el("error", { type }, NS.SERVER, el(condition, {}, NS.STANZA_ERRORS)));
}

/** Dialback verifications one inbound stream may have under way by default (XEP-0220 leaves it to policy). */
export const MAX_VERIFICATIONS_PER_STREAM = DIALBACK_DEFAULTS.maxPendingPerStream;

function errorCondition(element: XmlElement): string {
  return definedCondition(element.getChild("error"), NS.STANZA_ERRORS);
}
