/**
 * SASL EXTERNAL element logic (XEP-0178, RFC 6120 §6) against small fake streams and a fake TLS
 * provider. Real two-server runs live in test/.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { TLSSocket } from "node:tls";
import type { InjectionToken } from "tsyringe";
import {
  AUTHENTICATOR,
  type AuthClaim,
  type Authenticator,
  el,
  type InboundAuthOutcome,
  type InboundStreamApi,
  NS,
  type OutboundStreamApi,
  type PeerIdentityCheck,
  type PluginContext,
  type SecureChannel,
  TLS_PROVIDER,
  type TlsProvider,
  type XmlElement,
} from "../../core/index.js";
import plugin from "./index.js";
import { decodeAuthzid, SaslExternalAuthenticator } from "./sasl-external.js";

const CHANNEL: SecureChannel = { socket: {} as TLSSocket, chainTrusted: true };

/** A TLS provider whose peer certificates are valid for `trusted` domains, with certificates for `ours`. */
function fakeTls(trusted: string[], ours: string[] = ["a.example"]): TlsProvider {
  return {
    mode: "optional",
    offersStartTls: () => true,
    acceptInbound: () => Promise.reject(new Error("unused")),
    connectOutbound: () => Promise.reject(new Error("unused")),
    checkPeer: (_channel, domain): PeerIdentityCheck => (trusted.includes(domain) ? { trusted: true } : { trusted: false, reason: `certificate does not match ${domain}` }),
    hasCertificateFor: (domain) => ours.includes(domain),
  };
}

class FakeInbound implements InboundStreamApi {
  readonly direction = "inbound" as const;
  readonly id = "stream-1";
  readonly localDomain = "b.example";
  readonly log: string[] = [];
  readonly sent: XmlElement[] = [];
  readonly pairs = new Set<string>();
  policy: () => Promise<boolean> = async () => true;

  readonly tls?: SecureChannel;
  readonly headerFrom?: string;

  /** `null`: no TLS / no 'from' (an explicit `undefined` would pick the default). */
  constructor(tls: SecureChannel | null = CHANNEL, headerFrom: string | null = "a.example") {
    this.tls = tls ?? undefined;
    this.headerFrom = headerFrom ?? undefined;
  }

  send(element: XmlElement): void {
    this.sent.push(element);
    this.log.push(`send ${element.toString()}`);
  }
  fail(condition: string): void {
    this.log.push(`fail ${condition}`);
  }
  /** Like the real stream: policy first, then the authenticator's proof, then mark. */
  async authenticate({ remote, local, method }: AuthClaim, prove: () => boolean | Promise<boolean>): Promise<InboundAuthOutcome> {
    this.log.push(`authorize ${remote} ${local} ${method}`);
    const ok = await this.policy();
    if (!ok) {
      this.fail("invalid-from");
      return "refused";
    }
    if (!(await prove())) return "unproven";
    this.pairs.add(`${remote} ${local}`);
    this.log.push(`authenticated ${remote} ${local} ${method}`);
    return "authenticated";
  }
  isAuthenticated(remote: string, local: string): boolean {
    return this.pairs.has(`${remote} ${local}`);
  }
  isLocalDomain(domain: string): boolean {
    return domain === "b.example";
  }
  expectRestart(): void {
    this.log.push("expectRestart");
  }
}

class FakeOutbound implements OutboundStreamApi {
  readonly direction = "outbound" as const;
  readonly id = "remote-id";
  readonly localDomain = "a.example";
  readonly remoteDomain = "b.example";
  readonly log: string[] = [];
  /** What `next` resolves with (or rejects with, for an Error). */
  answer: XmlElement | Error = el("success", {}, NS.SASL);
  restartFails = false;

  readonly tls?: SecureChannel;

  constructor(tls: SecureChannel | null = CHANNEL) {
    this.tls = tls ?? undefined;
  }

  send(element: XmlElement): void {
    this.log.push(`send ${element.toString()}`);
  }
  fail(condition: string): void {
    this.log.push(`fail ${condition}`);
  }
  async next(match: (e: XmlElement) => boolean, timeoutMs: number): Promise<XmlElement> {
    this.log.push(`next ${timeoutMs}`);
    if (this.answer instanceof Error) throw this.answer;
    assert.ok(match(this.answer), "the authenticator waits for this answer");
    return this.answer;
  }
  whenClosed(): Promise<void> {
    return new Promise(() => {});
  }
  async restart(): Promise<XmlElement> {
    this.log.push("restart");
    if (this.restartFails) throw new Error("no stream header from b.example within 30000 ms");
    return el("features", {}, NS.STREAM);
  }
}

const auth = (text: string, mechanism = "EXTERNAL") => el("auth", { mechanism }, NS.SASL, text);
const b64 = (s: string) => Buffer.from(s).toString("base64");
const tick = () => new Promise((r) => setImmediate(r));
const offered = (mechanisms: string[]) => el("features", {}, NS.STREAM, el("mechanisms", {}, NS.SASL, ...mechanisms.map((m) => el("mechanism", {}, NS.SASL, m))));

describe("sasl_external plugin", () => {
  it("rejects bad options: it has none (no parseOptions); provides an authenticator, requires the TLS slot", async () => {
    assert.equal(plugin.name, "sasl_external");
    assert.equal(plugin.parseOptions, undefined);
    assert.deepEqual(plugin.provides, [AUTHENTICATOR]);
    assert.deepEqual(plugin.requires, [TLS_PROVIDER]);
    const provided: Array<[InjectionToken<unknown>, unknown]> = [];
    let resolved = 0;
    const container = {
      resolve: (token: unknown) => {
        assert.equal(token, TLS_PROVIDER);
        resolved++;
        return fakeTls(["a.example"]);
      },
    };
    await plugin.register({
      container,
      options: {},
      provide: (token: InjectionToken<unknown>, provider: { useValue?: unknown }) => provided.push([token, provider.useValue]),
    } as unknown as PluginContext<Record<string, never>>);
    assert.equal(provided.length, 1);
    assert.equal(provided[0]![0], AUTHENTICATOR);
    assert.equal(resolved, 0, "TLS_PROVIDER is not resolved in register");
    const authenticator = provided[0]![1] as Authenticator;
    assert.equal(authenticator.name, "sasl_external");
    authenticator.inboundFeatures(new FakeInbound());
    authenticator.inboundFeatures(new FakeInbound());
    assert.equal(resolved, 1, "resolved once, at first use");
  });
});

describe("SASL EXTERNAL inbound", () => {
  const authenticator = (trusted = ["a.example"]) => new SaslExternalAuthenticator({ tls: () => fakeTls(trusted) });

  it("offers EXTERNAL only over TLS with a certificate valid for the claimed domain", () => {
    const sasl = authenticator();
    assert.equal(sasl.inboundFeatures(new FakeInbound()).map(String).join(""), "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>");
    assert.deepEqual(sasl.inboundFeatures(new FakeInbound(null)), [], "never over plaintext");
    assert.deepEqual(sasl.inboundFeatures(new FakeInbound(CHANNEL, null)), [], "no 'from': no domain to check the certificate against");
    assert.deepEqual(sasl.inboundFeatures(new FakeInbound(CHANNEL, "c.example")), [], "certificate not valid for the claimed domain");
  });

  it("offers nothing on the stream restarted after success (RFC 6120 §6.4.6)", async () => {
    const stream = new FakeInbound();
    await stream.authenticate({ remote: "a.example", local: "b.example", method: "sasl_external" }, () => true);
    assert.deepEqual(authenticator().inboundFeatures(stream), []);
  });

  it("leaves other namespaces to other authenticators", () => {
    const stream = new FakeInbound();
    assert.equal(authenticator().handleInbound(stream, el("result", { from: "a.example", to: "b.example" }, NS.DIALBACK, "key")), false);
    assert.deepEqual(stream.log, []);
  });

  it("'=' authenticates the header's domain: policy, then authenticated, restart prepared BEFORE <success/>", async () => {
    const stream = new FakeInbound();
    assert.equal(authenticator().handleInbound(stream, auth("=")), true);
    await tick();
    assert.deepEqual(stream.log, [
      "authorize a.example b.example sasl_external",
      "authenticated a.example b.example sasl_external",
      "expectRestart",
      "send <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    ]);
  });

  it("an empty <auth/> and a base64 authzid equal to the header's domain are accepted too", async () => {
    for (const text of ["", b64("a.example"), b64("A.Example")]) {
      const stream = new FakeInbound();
      authenticator().handleInbound(stream, auth(text));
      await tick();
      assert.ok(stream.isAuthenticated("a.example", "b.example"), `authzid '${text}'`);
    }
  });

  it("without a 'from' in the header the authzid names the domain", async () => {
    const stream = new FakeInbound(CHANNEL, null);
    authenticator().handleInbound(stream, auth(b64("a.example")));
    await tick();
    assert.ok(stream.isAuthenticated("a.example", "b.example"));
    const none = new FakeInbound(CHANNEL, null);
    authenticator().handleInbound(none, auth("="));
    assert.equal(none.log.join("\n"), "send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-authzid/></failure>");
  });

  it("an authzid other than the header's domain: invalid-authzid, stream kept open", () => {
    const stream = new FakeInbound();
    authenticator(["a.example", "c.example"]).handleInbound(stream, auth(b64("c.example")));
    assert.deepEqual(stream.log, ["send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-authzid/></failure>"]);
  });

  it("an authzid that is a JID with a node, or one of our own domains: invalid-authzid", () => {
    for (const authzid of ["user@a.example", "a.example/res", "b.example"]) {
      const stream = new FakeInbound(CHANNEL, null);
      authenticator(["a.example", "b.example"]).handleInbound(stream, auth(b64(authzid)));
      assert.match(stream.log.join(), /<invalid-authzid\/>/, authzid);
      assert.equal(stream.pairs.size, 0);
    }
  });

  it("a certificate not valid for the domain: not-authorized, no policy call, stream open for dialback", () => {
    const stream = new FakeInbound();
    authenticator([]).handleInbound(stream, auth("="));
    assert.deepEqual(stream.log, [
      "send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text xml:lang='en'>certificate does not match a.example</text></failure>",
    ]);
  });

  it("<auth/> over plaintext: encryption-required, and no certificate check at all", () => {
    let asked = false;
    const sasl = new SaslExternalAuthenticator({ tls: () => { asked = true; return fakeTls(["a.example"]); } });
    const stream = new FakeInbound(null);
    assert.equal(sasl.handleInbound(stream, auth("=")), true);
    assert.deepEqual(stream.log, ["send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required/></failure>"]);
    assert.equal(asked, false);
  });

  it("another mechanism: invalid-mechanism", () => {
    const stream = new FakeInbound();
    authenticator().handleInbound(stream, auth("AGZvbwBiYXI=", "PLAIN"));
    assert.deepEqual(stream.log, ["send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism/></failure>"]);
  });

  it("data that is not base64: incorrect-encoding", () => {
    for (const text of ["not base64!", "YS5leGFtcGxl=", "/w=="]) {
      const stream = new FakeInbound();
      authenticator().handleInbound(stream, auth(text));
      assert.deepEqual(stream.log, ["send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><incorrect-encoding/></failure>"], text);
    }
  });

  it("policy denies: no success, not authenticated (the stream closes itself with invalid-from)", async () => {
    const stream = new FakeInbound();
    stream.policy = async () => false;
    authenticator().handleInbound(stream, auth("="));
    await tick();
    assert.deepEqual(stream.log, ["authorize a.example b.example sasl_external", "fail invalid-from"]);
    assert.equal(stream.pairs.size, 0);
  });

  it("a second <auth/> while policy decides is refused; <abort/> gets <aborted/>; <response/> is malformed", async () => {
    const stream = new FakeInbound();
    let allow!: (ok: boolean) => void;
    stream.policy = () => new Promise((r) => (allow = r));
    const sasl = authenticator();
    sasl.handleInbound(stream, auth("="));
    sasl.handleInbound(stream, auth("="));
    assert.match(stream.log[1]!, /<malformed-request\/>/);
    allow(true);
    await tick();
    assert.ok(stream.isAuthenticated("a.example", "b.example"));
    const other = new FakeInbound();
    sasl.handleInbound(other, el("abort", {}, NS.SASL));
    sasl.handleInbound(other, el("response", {}, NS.SASL, "=") );
    assert.deepEqual(other.log, [
      "send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><aborted/></failure>",
      "send <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><malformed-request/></failure>",
    ]);
  });

  it("decodeAuthzid: '=' and '' are empty, base64 is decoded, garbage and invalid UTF-8 are null", () => {
    assert.equal(decodeAuthzid("="), "");
    assert.equal(decodeAuthzid(""), "");
    assert.equal(decodeAuthzid("YS5leGFtcGxl"), "a.example");
    assert.equal(decodeAuthzid("YS5leGFtcGxl=="), null);
    assert.equal(decodeAuthzid("/w=="), null);
  });
});

describe("SASL EXTERNAL outbound", () => {
  const authenticator = (ours = ["a.example"]) => new SaslExternalAuthenticator({ tls: () => fakeTls([], ours), timeoutMs: 1234 });

  it("sends the local domain as authzid, restarts after <success/>, and reports authenticated", async () => {
    const stream = new FakeOutbound();
    assert.deepEqual(await authenticator().authenticateOutbound(stream, offered(["PLAIN", "EXTERNAL"])), { outcome: "authenticated" });
    assert.deepEqual(stream.log, [
      "send <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>YS5leGFtcGxl</auth>",
      "next 1234",
      "restart",
    ]);
  });

  it("<failure/> is not fatal: dialback may follow on the same stream", async () => {
    const stream = new FakeOutbound();
    stream.answer = el("failure", {}, NS.SASL, el("not-authorized", {}, NS.SASL), el("text", {}, NS.SASL, "certificate does not match a.example"));
    const result = await authenticator().authenticateOutbound(stream, offered(["EXTERNAL"]));
    assert.deepEqual(result, { outcome: "failed", reason: "b.example refused SASL EXTERNAL: not-authorized (certificate does not match a.example)", fatal: false });
    assert.ok(!stream.log.includes("restart"));
  });

  it("no answer in time is fatal for the stream", async () => {
    const stream = new FakeOutbound();
    stream.answer = new Error("no answer from b.example within 1234 ms");
    const result = await authenticator().authenticateOutbound(stream, offered(["EXTERNAL"]));
    assert.equal(result.outcome, "failed");
    assert.equal(result.outcome === "failed" && result.fatal, true);
  });

  it("a failed restart after success is fatal", async () => {
    const stream = new FakeOutbound();
    stream.restartFails = true;
    const result = await authenticator().authenticateOutbound(stream, offered(["EXTERNAL"]));
    assert.equal(result.outcome === "failed" && result.fatal, true);
  });

  it("unavailable, and nothing sent, when not offered, over plaintext, or without our certificate", async () => {
    const cases: Array<[FakeOutbound, XmlElement, SaslExternalAuthenticator, RegExp]> = [
      [new FakeOutbound(), el("features", {}, NS.STREAM), authenticator(), /does not offer SASL EXTERNAL/],
      [new FakeOutbound(), offered(["PLAIN"]), authenticator(), /does not offer SASL EXTERNAL/],
      [new FakeOutbound(null), offered(["EXTERNAL"]), authenticator(), /not encrypted/],
      [new FakeOutbound(), offered(["EXTERNAL"]), authenticator([]), /no certificate for a\.example/],
    ];
    for (const [stream, features, sasl, reason] of cases) {
      const result = await sasl.authenticateOutbound(stream, features);
      assert.equal(result.outcome, "unavailable");
      assert.match(result.outcome === "unavailable" ? result.reason : "", reason);
      assert.deepEqual(stream.log, []);
    }
  });
});
