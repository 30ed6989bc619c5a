/**
 * Server Dialback (XEP-0220) with XEP-0185 keys, as pure logic: the key function against the
 * published vectors, the declaration and its secret, and the authenticator's three roles against
 * small fake streams. Two servers really dialing back each other live in test/federation/.
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { DependencyContainer, InjectionToken } from "tsyringe";
import {
  AUTHENTICATOR,
  CLOCK,
  type Cluster,
  type DialbackVerdict,
  type DialbackVerifyRequest,
  DIALBACK_VERIFIER,
  type AuthClaim,
  type Authenticator,
  configFromObject,
  createLogger,
  type DialbackKeys,
  el,
  ERROR_CODES,
  EventBus,
  EVENTS,
  type InboundAuthOutcome,
  type InboundStreamApi,
  isConfigError,
  type Logger,
  NS,
  OUTBOUND_SESSIONS,
  type OutboundAuthResult,
  type OutboundSessions,
  type OutboundStreamApi,
  type PluginContext,
  type Provider,
  type S2sConfig,
  S2sError,
  SESSION_SETTINGS,
  systemClock,
  type XmlElement,
} from "../../core/index.js";
import { DialbackAuthenticator, MAX_VERIFICATIONS_PER_STREAM } from "./dialback-authenticator.js";
import { randomSecret, Xep0185Keys } from "./dialback-keys.js";
import plugin from "./index.js";
import { loadPluginsFor } from "../../test/helpers/plugins.js";
import { DIALBACK_DEFAULTS, type DialbackOptions } from "./options.js";

const config = (extra: Record<string, unknown> = {}): S2sConfig => configFromObject({ general: { hosts: ["b.example"] }, ...extra }, { baseDir: process.cwd() });

/** A pino logger writing JSON lines into `lines` (level warn and up unless told otherwise). */
function capturingLogger(lines: Array<Record<string, unknown>>, level: "warn" | "debug" = "warn"): Logger {
  return createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
}

const silent = createLogger("silent");
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Run the declaration's `register` with a fake context; returns what it provided. */
async function register(cfg: S2sConfig, logger: Logger): Promise<Map<InjectionToken<unknown>, Provider<unknown>>> {
  const provided = new Map<InjectionToken<unknown>, Provider<unknown>>();
  await plugin.register({
    config: cfg,
    options: DIALBACK_DEFAULTS,
    logger,
    provide: (token: InjectionToken<unknown>, provider: Provider<unknown>) => void provided.set(token, provider),
  } as unknown as PluginContext<DialbackOptions>);
  return provided;
}

function keysOf(provided: Map<InjectionToken<unknown>, Provider<unknown>>): DialbackKeys {
  return authenticatorOf(provided).keys;
}

function authenticatorOf(provided: Map<InjectionToken<unknown>, Provider<unknown>>): DialbackAuthenticator {
  const provider = provided.get(AUTHENTICATOR);
  assert.ok(provider && "useFactory" in provider, "AUTHENTICATOR is provided as a factory");
  const services = new Map<unknown, unknown>([[OUTBOUND_SESSIONS, new FakeSessions()], [SESSION_SETTINGS, { negotiationTimeoutMs: 1234 }], [EVENTS, new EventBus()]]);
  const made = provider.useFactory({ resolve: (token: unknown) => services.get(token) } as unknown as DependencyContainer);
  assert.ok(made instanceof DialbackAuthenticator);
  return made;
}

/** An inbound stream that records what the authenticator does with it. */
class FakeInbound implements InboundStreamApi {
  readonly direction = "inbound" as const;
  readonly id: string;
  readonly localDomain = "b.example";
  /** The 'from' of the peer's stream header (unauthenticated). */
  headerFrom?: string;
  readonly sent: XmlElement[] = [];
  readonly failures: string[] = [];
  readonly authenticated = new Set<string>();
  readonly authorized: string[] = [];
  allow = true;

  constructor(id = "417GAF25", private readonly local: readonly string[] = ["b.example"]) {
    this.id = id;
  }

  send(element: XmlElement): void {
    this.sent.push(element);
  }
  fail(condition: string): void {
    this.failures.push(condition);
  }
  /** Like the real stream: policy (here `allow`) first, then the authenticator's proof, then mark. */
  async authenticate(claim: AuthClaim, prove: () => boolean | Promise<boolean>): Promise<InboundAuthOutcome> {
    this.authorized.push(`${claim.remote} -> ${claim.local}`);
    if (!this.allow) {
      this.fail("invalid-from");
      return "refused";
    }
    if (!(await prove())) return "unproven";
    this.authenticated.add(`${claim.remote} ${claim.local}`);
    return "authenticated";
  }
  isAuthenticated(remote: string, local: string): boolean {
    return this.authenticated.has(`${remote} ${local}`);
  }
  isLocalDomain(domain: string): boolean {
    return this.local.includes(domain);
  }
  expectRestart(): void {}
}

/** An outbound stream: records what is sent; `next` answers with `answer` (or throws it). */
class FakeOutbound implements OutboundStreamApi {
  readonly direction = "outbound" as const;
  readonly sent: XmlElement[] = [];
  readonly failures: string[] = [];
  answer: XmlElement | Error = new Error("no answer scripted");

  constructor(
    readonly localDomain = "a.example",
    readonly remoteDomain = "b.example",
    readonly id = "D60000229F",
  ) {}

  send(element: XmlElement): void {
    this.sent.push(element);
  }
  fail(condition: string): void {
    this.failures.push(condition);
  }
  async next(match: (e: XmlElement) => boolean): Promise<XmlElement> {
    if (this.answer instanceof Error) throw this.answer;
    assert.ok(match(this.answer), `the authenticator waits for ${this.answer.toString()}`);
    return this.answer;
  }
  async restart(): Promise<XmlElement> {
    throw new Error("dialback never restarts a stream");
  }
  #close!: () => void;
  readonly #closed = new Promise<void>((r) => (this.#close = r));
  whenClosed(): Promise<void> {
    return this.#closed;
  }
  /** Test hook: the transport went away. */
  closeNow(): void {
    this.#close();
  }
}

/** OUTBOUND_SESSIONS whose `openStream` is answered by the test (`open` records each request; `prepared` each `prepare`). */
class FakeSessions implements Pick<OutboundSessions, "openStream" | "prepare"> {
  readonly requests: Array<{ local: string; remote: string; settle: (s: OutboundStreamApi | Error) => void }> = [];
  readonly prepared: string[] = [];
  prepare(local: string, remote: string): void {
    this.prepared.push(`${local} -> ${remote}`);
  }
  openStream(local: string, remote: string): Promise<OutboundStreamApi> {
    return new Promise((resolve, reject) => {
      this.requests.push({ local, remote, settle: (s) => (s instanceof Error ? reject(s) : resolve(s)) });
    });
  }
}

const SECRET_B = "d14lb4ck43v3r";
const keysB = new Xep0185Keys(SECRET_B);

function authenticator(sessions = new FakeSessions(), timeoutMs = 20_000): { auth: DialbackAuthenticator; sessions: FakeSessions } {
  return { auth: new DialbackAuthenticator(keysB, sessions, silent, timeoutMs), sessions };
}

const db = (name: "result" | "verify", attrs: Record<string, string | undefined>, key?: string) => el(name, attrs, NS.DIALBACK, key);

/** The stanza-error condition inside a dialback `<error/>` (XEP-0220 §2.4). */
function dialbackError(element: XmlElement): { type?: string; condition?: string } {
  const error = element.getChild("error", NS.SERVER);
  const condition = error?.children.find((c): c is XmlElement => typeof c !== "string" && c.ns === NS.STANZA_ERRORS);
  return { type: error?.attr("type"), condition: condition?.name };
}

describe("dialback plugin", () => {
  it("rejects bad options: unknown keys and caps that are not positive integers, each with its path", async () => {
    assert.equal(plugin.name, "dialback");
    const cfg = config({ plugins: { dialback: { foo: 1, max_pending: 0, max_pending_per_stream: "ten" } } });
    await assert.rejects(loadPluginsFor(cfg), (err: unknown) => {
      assert.ok(isConfigError(err), `expected a ConfigError, got ${String(err)}`);
      assert.equal(err.problems.length, 3, err.problems.join("\n"));
      assert.match(err.problems[0]!, /^plugins\.dialback\.foo: unknown option \(got 1, expected max_pending_per_stream or max_pending/);
      assert.match(err.problems[1]!, /^plugins\.dialback\.max_pending: expected an integer from 1 to 1000000 \(got 0, expected e\.g\. 200\)/);
      assert.match(err.problems[2]!, /^plugins\.dialback\.max_pending_per_stream: expected an integer from 1 to 1000000 \(got "ten", expected e\.g\. 10\)/);
      return true;
    });
    // The [s2s] key it owns is checked by the config layer: an empty secret is no secret.
    assert.throws(() => config({ s2s: { shared: "" } }), (err: unknown) => isConfigError(err) && err.problems.some((p) => p.startsWith("s2s.shared: ")));
    assert.throws(() => config({ s2s: { shared: 42 } }), (err: unknown) => isConfigError(err) && err.problems.some((p) => p.startsWith("s2s.shared: ")));
  });

  it("declares the Dialback slot and an authenticator, needs the connector, reads s2s.shared", () => {
    assert.deepEqual(plugin.provides, [AUTHENTICATOR, DIALBACK_VERIFIER]);
    assert.deepEqual(plugin.requires, [SESSION_SETTINGS]);
    assert.deepEqual(plugin.s2sOptions, ["shared"]);
  });

  it("keys come from s2s.shared, without a warning", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const keys = keysOf(await register(config({ s2s: { shared: "s3cr3tf0rd14lb4ck" } }), capturingLogger(lines)));
    // XEP-0220 §2.1.1 example 1.
    assert.equal(keys.generate("montague.example", "capulet.example", "D60000229F"), "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3");
    assert.deepEqual(lines, []);
  });

  it("s2s.shared as a list: the first signs, every one verifies; reload takes new secrets in place", async () => {
    const problems = (shared: unknown) => {
      try {
        config({ s2s: { shared } });
        return [];
      } catch (err) {
        assert.ok(isConfigError(err));
        return err.problems;
      }
    };
    assert.match(problems([])[0]!, /^s2s\.shared: empty \(got \[\], expected a non-empty string, or a non-empty array/);
    assert.match(problems(["new", ""])[0]!, /^s2s\.shared\[1\]: empty/);
    assert.match(problems(["new", 7])[0]!, /^s2s\.shared\[1\]: not a string/);
    const dup = problems(["new", "old", "new"]);
    assert.match(dup[0]!, /^s2s\.shared\[2\]: duplicate secret \(got "\(hidden\)".*same as s2s\.shared\[0\]/);
    assert.doesNotMatch(dup[0]!, /"new"/, "a secret is never printed");
    assert.match(problems({ a: 1 })[0]!, /^s2s\.shared: not a string or an array/);

    const cfg = config({ s2s: { shared: ["new secret", "old secret"] } });
    assert.equal(cfg.s2s.shared, "new secret");
    assert.deepEqual(cfg.s2s.sharedSecrets, ["new secret", "old secret"]);
    const authenticator = authenticatorOf(await register(cfg, silent));
    const keys = authenticator.keys;
    const old = new Xep0185Keys("old secret");
    const fresh = new Xep0185Keys("new secret");
    assert.equal(keys.generate("b.example", "a.example", "s1"), fresh.generate("b.example", "a.example", "s1"), "the first secret signs");
    assert.ok(keys.verify("b.example", "a.example", "s1", old.generate("b.example", "a.example", "s1")), "the old secret still verifies");
    assert.ok(keys.verify("b.example", "a.example", "s1", fresh.generate("b.example", "a.example", "s1")));
    assert.equal(keys.verify("b.example", "a.example", "s1", new Xep0185Keys("other").generate("b.example", "a.example", "s1")), false);
    assert.equal(keys.verify("b.example", "a.example", "s2", old.generate("b.example", "a.example", "s1")), false, "bound to the stream id");

    // Reload: the old secret dropped; without s2s.shared the secrets in use stay.
    assert.deepEqual(authenticator.reload(config({ s2s: { shared: "new secret" } })), ["shared"]);
    assert.equal(keys.verify("b.example", "a.example", "s1", old.generate("b.example", "a.example", "s1")), false);
    assert.deepEqual(authenticator.reload(config()), []);
    assert.ok(keys.verify("b.example", "a.example", "s1", fresh.generate("b.example", "a.example", "s1")));
  });

  it("without s2s.shared: a random secret per process, and a warning that names the option", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const first = keysOf(await register(config(), capturingLogger(lines)));
    const second = keysOf(await register(config(), capturingLogger(lines)));
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.equal(line.what, "dialback_random_secret");
      assert.equal(line.level, 40, "logged at warn level");
      assert.match(String(line.msg), /s2s\.shared/);
    }
    const key = first.generate("b.example", "a.example", "id1");
    assert.ok(first.verify("b.example", "a.example", "id1", key), "a process verifies its own keys");
    assert.equal(second.verify("b.example", "a.example", "id1", key), false, "another start has another secret");
    assert.match(randomSecret(), /^[0-9a-f]{20}$/);
    assert.notEqual(randomSecret(), randomSecret());
  });

  it("the authenticator factory resolves the outbound sessions, the session negotiation timeout, the event bus and the clock", async () => {
    const provided = await register(config({ s2s: { shared: "x" } }), silent);
    const provider = provided.get(AUTHENTICATOR);
    assert.ok(provider && "useFactory" in provider, "AUTHENTICATOR is a factory (the connector is resolved per server)");
    const asked: unknown[] = [];
    const fake = {
      resolve: (token: unknown) => {
        asked.push(token);
        if (token === OUTBOUND_SESSIONS) return new FakeSessions();
        if (token === SESSION_SETTINGS) return { negotiationTimeoutMs: 1234 };
        if (token === EVENTS) return new EventBus();
        if (token === CLOCK) return systemClock;
        assert.fail(`unexpected token ${String(token)}`);
      },
    } as unknown as DependencyContainer;
    const made = provider.useFactory(fake) as Authenticator;
    assert.ok(made instanceof DialbackAuthenticator);
    assert.equal(made.name, "dialback");
    assert.deepEqual(asked, [OUTBOUND_SESSIONS, SESSION_SETTINGS, EVENTS, CLOCK]);
    // The cluster owner's verifier (DIALBACK_VERIFIER) is the same instance, built once.
    const verifier = provided.get(DIALBACK_VERIFIER);
    assert.ok(verifier && "useFactory" in verifier);
    assert.equal(verifier.useFactory(fake), made);
    assert.equal(asked.length, 4);
  });
});

describe("XEP-0185 keys", () => {
  it("match the published vectors (XEP-0185 §3, XEP-0220 §2.1.1 and §2.2.2)", () => {
    // XEP-0185 §3: SHA256('s3cr3tf0rd14lb4ck') = a7136eb1..., receiving xmpp.example.com, originating example.org.
    assert.equal(new Xep0185Keys("s3cr3tf0rd14lb4ck").generate("xmpp.example.com", "example.org", "D60000229F"), "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643");
    // XEP-0220 §2.1.1: capulet.example (secret s3cr3tf0rd14lb4ck) sends a key to montague.example.
    assert.equal(new Xep0185Keys("s3cr3tf0rd14lb4ck").generate("montague.example", "capulet.example", "D60000229F"), "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3");
    // XEP-0220 §2.2.2: montague.example (secret d14lb4ck43v3r) checks the key capulet.example was given.
    assert.equal(new Xep0185Keys("d14lb4ck43v3r").generate("capulet.example", "montague.example", "417GAF25"), "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d");
  });

  it("verify() accepts the right key whatever its case and surrounding whitespace, and nothing else", () => {
    const keys = new Xep0185Keys("d14lb4ck43v3r");
    const good = "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d";
    assert.equal(keys.verify("capulet.example", "montague.example", "417GAF25", good), true);
    assert.equal(keys.verify("capulet.example", "montague.example", "417GAF25", `\n       ${good.toUpperCase()}\n     `), true, "XEP-0220 examples indent the key");
    assert.equal(keys.verify("capulet.example", "montague.example", "417GAF25", good.replace(/.$/, "e")), false, "one hex digit off");
    assert.equal(keys.verify("capulet.example", "montague.example", "417GAF25", good.slice(0, 32)), false, "truncated");
    assert.equal(keys.verify("capulet.example", "montague.example", "417GAF25", ""), false, "empty");
    assert.equal(keys.verify("capulet.example", "montague.example", "417GAF26", good), false, "bound to the stream id");
    assert.equal(keys.verify("montague.example", "capulet.example", "417GAF25", good), false, "bound to the direction");
    assert.equal(new Xep0185Keys("s3cr3tf0rd14lb4ck").verify("capulet.example", "montague.example", "417GAF25", good), false, "bound to the secret");
  });
});

describe("DialbackAuthenticator inbound", () => {
  it("advertises urn:xmpp:features:dialback with <errors/> (XEP-0220 §2.4.1)", () => {
    const features = authenticator().auth.inboundFeatures();
    assert.equal(features.length, 1);
    const [dialback] = features;
    assert.equal(dialback!.name, "dialback");
    assert.equal(dialback!.ns, NS.DIALBACK_FEATURE);
    assert.ok(dialback!.getChild("errors", NS.DIALBACK_FEATURE));
  });

  it("a stream that claims a remote domain gets that domain resolved ahead of its db:result; nothing else, nobody contacted", () => {
    const { auth, sessions } = authenticator();
    const claiming = new FakeInbound();
    claiming.headerFrom = "A.example";
    auth.inboundStreamOpened(claiming);
    assert.deepEqual(sessions.prepared, ["b.example -> a.example"], "the claimed domain, lower-cased, for the stream's local domain");
    // Not for a header without 'from', one claiming a domain served here, or an already authenticated pair.
    auth.inboundStreamOpened(new FakeInbound());
    const local = new FakeInbound();
    local.headerFrom = "b.example";
    auth.inboundStreamOpened(local);
    const known = new FakeInbound();
    known.headerFrom = "a.example";
    known.authenticated.add("a.example b.example");
    auth.inboundStreamOpened(known);
    assert.deepEqual(sessions.prepared, ["b.example -> a.example"]);
    assert.equal(sessions.requests.length, 0, "no connection is opened before a db:result");
    assert.deepEqual(claiming.sent, [], "nothing is sent on the stream");
  });

  it("ignores elements outside the dialback namespace", () => {
    const stream = new FakeInbound();
    assert.equal(authenticator().auth.handleInbound(stream, el("message", { from: "a.example", to: "b.example" }, NS.SERVER)), false);
    assert.equal(authenticator().auth.handleInbound(stream, el("auth", { mechanism: "EXTERNAL" }, NS.SASL)), false);
    assert.equal(stream.failures.length, 0);
  });

  it("closes the stream with not-authorized on an unsolicited typed db:result or db:verify", () => {
    for (const name of ["result", "verify"] as const) {
      const stream = new FakeInbound();
      const taken = authenticator().auth.handleInbound(stream, db(name, { from: "a.example", to: "b.example", id: "x", type: "valid" }));
      assert.equal(taken, true);
      assert.deepEqual(stream.failures, ["not-authorized"], name);
      assert.equal(stream.sent.length, 0);
      assert.equal(stream.authenticated.size, 0);
    }
  });

  it("closes the stream with invalid-xml when 'from' or 'to' (or a db:verify 'id') is missing", () => {
    const cases = [
      db("result", { to: "b.example" }, "key"),
      db("result", { from: "a.example" }, "key"),
      db("verify", { to: "b.example", id: "x" }, "key"),
      db("verify", { from: "a.example", to: "b.example" }, "key"),
    ];
    for (const element of cases) {
      const stream = new FakeInbound();
      assert.equal(authenticator().auth.handleInbound(stream, element), true);
      assert.deepEqual(stream.failures, ["invalid-xml"], element.toString());
    }
  });

  it("authoritative role: answers db:verify valid or invalid with the attributes swapped", () => {
    const { auth } = authenticator();
    const stream = new FakeInbound("any-stream");
    const key = "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d";
    // XEP-0220 §2.2.2 with b.example standing for montague.example and a.example for capulet.example.
    const ourKey = keysB.generate("a.example", "b.example", "417GAF25");
    auth.handleInbound(stream, db("verify", { from: "a.example", to: "b.example", id: "417GAF25" }, ourKey));
    auth.handleInbound(stream, db("verify", { from: "a.example", to: "b.example", id: "417GAF25" }, key));
    assert.deepEqual(stream.sent.map((e) => [e.name, e.ns, e.attrs]), [
      ["verify", NS.DIALBACK, { from: "b.example", to: "a.example", id: "417GAF25", type: "valid" }],
      ["verify", NS.DIALBACK, { from: "b.example", to: "a.example", id: "417GAF25", type: "invalid" }],
    ]);
    assert.deepEqual(stream.failures, [], "an invalid key is not a reason to close the verification stream");
  });

  it("authoritative role: db:verify for a domain not served here gets type='error' item-not-found, the stream stays", () => {
    const stream = new FakeInbound();
    authenticator().auth.handleInbound(stream, db("verify", { from: "a.example", to: "elsewhere.example", id: "417GAF25" }, "00"));
    assert.equal(stream.sent.length, 1);
    const [answer] = stream.sent;
    assert.equal(answer!.name, "verify");
    assert.deepEqual(answer!.attrs, { from: "elsewhere.example", to: "a.example", id: "417GAF25", type: "error" });
    assert.deepEqual(dialbackError(answer!), { type: "cancel", condition: "item-not-found" });
    assert.equal(stream.failures.length, 0);
  });

  it("receiving role: db:result for a domain not served here gets item-not-found; an empty key not-acceptable", async () => {
    const stream = new FakeInbound();
    const { auth, sessions } = authenticator();
    auth.handleInbound(stream, db("result", { from: "a.example", to: "elsewhere.example" }, "key"));
    auth.handleInbound(stream, db("result", { from: "a.example", to: "b.example" }, "  "));
    await tick();
    assert.deepEqual(stream.sent.map((e) => [e.attrs.from, e.attrs.to, e.attrs.type, dialbackError(e).condition]), [
      ["elsewhere.example", "a.example", "error", "item-not-found"],
      ["b.example", "a.example", "error", "not-acceptable"],
    ]);
    assert.equal(stream.failures.length, 0);
    assert.equal(sessions.requests.length, 0, "nobody was asked");
  });

  it("receiving role: asks the authoritative server over an outbound stream and reports valid", async () => {
    const { auth, sessions } = authenticator();
    const stream = new FakeInbound("in-1");
    assert.equal(auth.handleInbound(stream, db("result", { from: "a.example", to: "b.example" }, " the-key ")), true);
    await tick();
    assert.deepEqual(stream.authorized, ["a.example -> b.example"], "policy runs before anyone is contacted");
    assert.deepEqual(sessions.requests.map((r) => [r.local, r.remote]), [["b.example", "a.example"]]);
    const toAuthoritative = new FakeOutbound("b.example", "a.example", "out-1");
    sessions.requests[0]!.settle(toAuthoritative);
    await tick();
    assert.deepEqual(toAuthoritative.sent.map((e) => [e.name, e.attrs, e.text()]), [["verify", { from: "b.example", to: "a.example", id: "in-1" }, "the-key"]]);
    // An answer for another stream id is not ours: dropped.
    assert.equal(auth.handleOutbound(toAuthoritative, db("verify", { from: "a.example", to: "b.example", id: "other", type: "valid" })), true);
    await tick();
    assert.equal(stream.sent.length, 0);
    assert.equal(auth.handleOutbound(toAuthoritative, db("verify", { from: "a.example", to: "b.example", id: "in-1", type: "valid" })), true);
    await tick();
    assert.deepEqual(stream.sent.map((e) => e.attrs), [{ from: "b.example", to: "a.example", type: "valid" }]);
    assert.ok(stream.isAuthenticated("a.example", "b.example"));
    // A second db:result for the proven pair is answered at once.
    auth.handleInbound(stream, db("result", { from: "a.example", to: "b.example" }, "the-key"));
    await tick();
    assert.equal(stream.sent.at(-1)!.attrs.type, "valid");
    assert.equal(sessions.requests.length, 1);
  });

  it("receiving role in a cluster: the pair's owner verifies (its verdict is the answer); undefined: verify here", async () => {
    const asked: DialbackVerifyRequest[] = [];
    let relayed: DialbackVerdict | undefined = "valid";
    const cluster = { verifyDialback: async (request: DialbackVerifyRequest) => (asked.push(request), relayed) } as unknown as Cluster;
    let lookups = 0;
    const sessions = new FakeSessions();
    const auth = new DialbackAuthenticator(keysB, sessions, silent, 20_000, DIALBACK_DEFAULTS, undefined, systemClock, () => (lookups++, cluster));
    const owned = new FakeInbound("in-owned");
    auth.handleInbound(owned, db("result", { from: "a.example", to: "b.example" }, "k1"));
    await tick();
    assert.deepEqual(asked, [{ local: "b.example", remote: "a.example", id: "in-owned", key: "k1" }]);
    assert.deepEqual(owned.sent.map((e) => e.attrs.type), ["valid"]);
    assert.equal(sessions.requests.length, 0, "no stream of its own to the authoritative server");
    // Another node's error (§2.4) is this node's answer; the stream stays.
    relayed = { error: "remote-server-timeout" };
    const timedOut = new FakeInbound("in-timeout");
    auth.handleInbound(timedOut, db("result", { from: "a.example", to: "b.example" }, "k2"));
    await tick();
    assert.deepEqual(dialbackError(timedOut.sent[0]!), { type: "cancel", condition: "remote-server-timeout" });
    assert.deepEqual(timedOut.failures, []);
    // This node is the owner (or Redis is away): it verifies over its own stream.
    relayed = undefined;
    const here = new FakeInbound("in-here");
    auth.handleInbound(here, db("result", { from: "a.example", to: "b.example" }, "k3"));
    await tick();
    assert.deepEqual(sessions.requests.map((r) => [r.local, r.remote]), [["b.example", "a.example"]]);
    assert.equal(lookups, 1, "the seam is looked up once");
  });

  it("receiving role: a verification connection that closes with the request pending fails it at once (§2.1.2)", async () => {
    const { auth, sessions } = authenticator();
    const stream = new FakeInbound("in-close");
    auth.handleInbound(stream, db("result", { from: "a.example", to: "b.example" }, "the-key"));
    await tick();
    const toAuthoritative = new FakeOutbound("b.example", "a.example", "out-close");
    sessions.requests[0]!.settle(toAuthoritative);
    await tick();
    assert.equal(toAuthoritative.sent.length, 1);
    toAuthoritative.closeNow();
    await tick();
    const answer = stream.sent.at(-1)!;
    assert.equal(answer.attrs.type, "error");
    assert.equal(answer.getChild("error")?.children.find((c) => typeof c !== "string")?.name, "remote-server-timeout");
  });

  it("receiving role: an invalid verdict is reported and the stream closed with not-authorized", async () => {
    const { auth, sessions } = authenticator();
    const stream = new FakeInbound("in-2");
    auth.handleInbound(stream, db("result", { from: "a.example", to: "b.example" }, "forged"));
    await tick();
    const toAuthoritative = new FakeOutbound("b.example", "a.example", "out-2");
    sessions.requests[0]!.settle(toAuthoritative);
    await tick();
    auth.handleOutbound(toAuthoritative, db("verify", { from: "a.example", to: "b.example", id: "in-2", type: "invalid" }));
    await tick();
    assert.deepEqual(stream.sent.map((e) => e.attrs.type), ["invalid"]);
    assert.deepEqual(stream.failures, ["not-authorized"]);
    assert.equal(stream.authenticated.size, 0);
  });

  it("receiving role: a denied pair is never verified (the stream closes itself)", async () => {
    const { auth, sessions } = authenticator();
    const stream = new FakeInbound();
    stream.allow = false;
    auth.handleInbound(stream, db("result", { from: "a.example", to: "b.example" }, "key"));
    await tick();
    assert.deepEqual(stream.failures, ["invalid-from"]);
    assert.equal(stream.sent.length, 0);
    assert.equal(sessions.requests.length, 0);
  });

  it(`receiving role: at most MAX_VERIFICATIONS_PER_STREAM (${MAX_VERIFICATIONS_PER_STREAM}) under way per stream; more get resource-constraint`, async () => {
    const { auth, sessions } = authenticator();
    const stream = new FakeInbound();
    // All in one go, as if they came in one TCP segment: the count is taken before any await.
    for (let i = 0; i <= MAX_VERIFICATIONS_PER_STREAM; i++) auth.handleInbound(stream, db("result", { from: `d${i}.example`, to: "b.example" }, "key"));
    await tick();
    assert.equal(sessions.requests.length, MAX_VERIFICATIONS_PER_STREAM);
    assert.equal(stream.sent.length, 1);
    assert.deepEqual(stream.sent[0]!.attrs, { from: "b.example", to: `d${MAX_VERIFICATIONS_PER_STREAM}.example`, type: "error" });
    assert.deepEqual(dialbackError(stream.sent[0]!), { type: "wait", condition: "resource-constraint" });
    // Another stream has its own budget.
    const other = new FakeInbound("other");
    auth.handleInbound(other, db("result", { from: "x.example", to: "b.example" }, "key"));
    await tick();
    assert.equal(sessions.requests.length, MAX_VERIFICATIONS_PER_STREAM + 1);
    assert.equal(other.sent.length, 0);
    // The authoritative servers cannot be reached: remote-server-not-found, and the budget is back.
    for (const request of sessions.requests) request.settle(new Error("connect ECONNREFUSED"));
    await tick();
    const conditions = stream.sent.slice(1).map((e) => dialbackError(e).condition);
    assert.deepEqual(conditions, Array(MAX_VERIFICATIONS_PER_STREAM).fill("remote-server-not-found"));
    assert.deepEqual(stream.failures, [], "dialback errors are not stream errors (XEP-0220 §2.4)");
    auth.handleInbound(stream, db("result", { from: "late.example", to: "b.example" }, "key"));
    await tick();
    assert.equal(sessions.requests.at(-1)!.remote, "late.example");
    sessions.requests.at(-1)!.settle(new Error("connect ECONNREFUSED"));
    await tick();
  });
});

describe("DialbackAuthenticator outbound (originating role)", () => {
  const features = (...children: XmlElement[]) => el("features", {}, NS.STREAM, ...children);
  const dialbackFeature = () => el("dialback", {}, NS.DIALBACK_FEATURE, el("errors", {}, NS.DIALBACK_FEATURE));
  const sasl = () => el("mechanisms", {}, NS.SASL, el("mechanism", {}, NS.SASL, "EXTERNAL"));

  it("is unavailable when the features offer SASL but not dialback (certificate-only peer); nothing is sent", async () => {
    const stream = new FakeOutbound();
    const result = await authenticator().auth.authenticateOutbound(stream, features(sasl()));
    assert.equal(result.outcome, "unavailable");
    assert.equal(stream.sent.length, 0);
  });

  it("is unavailable when the peer gave no stream id (keys are bound to it)", async () => {
    const stream = new FakeOutbound("a.example", "b.example", "");
    assert.equal((await authenticator().auth.authenticateOutbound(stream, features(dialbackFeature()))).outcome, "unavailable");
    assert.equal(stream.sent.length, 0);
  });

  it("sends db:result with the XEP-0185 key and is authenticated on type='valid' (also to a peer that advertises nothing)", async () => {
    for (const offered of [features(dialbackFeature(), sasl()), features()]) {
      const stream = new FakeOutbound();
      stream.answer = db("result", { from: "b.example", to: "a.example", type: "valid" });
      const result = await authenticator().auth.authenticateOutbound(stream, offered);
      assert.deepEqual(result, { outcome: "authenticated" });
      assert.equal(stream.sent.length, 1);
      const [request] = stream.sent;
      assert.equal(request!.name, "result");
      assert.equal(request!.ns, NS.DIALBACK);
      assert.deepEqual(request!.attrs, { from: "a.example", to: "b.example" });
      assert.equal(request!.text(), keysB.generate("b.example", "a.example", "D60000229F"));
    }
  });

  it("type='invalid' fails for good; a dialback error fails without killing the stream (remote-server-timeout)", async () => {
    const invalid = new FakeOutbound();
    invalid.answer = db("result", { from: "b.example", to: "a.example", type: "invalid" });
    const rejected = await authenticator().auth.authenticateOutbound(invalid, features(dialbackFeature()));
    assert.equal(rejected.outcome, "failed");
    assert.equal((rejected as Extract<OutboundAuthResult, { outcome: "failed" }>).fatal, true);

    const erred = new FakeOutbound();
    erred.answer = el("result", { from: "b.example", to: "a.example", type: "error" }, NS.DIALBACK, el("error", { type: "cancel" }, NS.SERVER, el("item-not-found", {}, NS.STANZA_ERRORS)));
    const result = await authenticator().auth.authenticateOutbound(erred, features(dialbackFeature()));
    assert.equal(result.outcome, "failed");
    const failed = result as Extract<OutboundAuthResult, { outcome: "failed" }>;
    assert.equal(failed.fatal, false);
    assert.equal(failed.condition, "remote-server-timeout");
    assert.match(failed.reason, /item-not-found/);
  });

  it("no answer in time: fatal, remote-server-timeout; the stream closing instead: remote-server-not-found", async () => {
    const slow = new FakeOutbound();
    slow.answer = new S2sError(ERROR_CODES.TIMEOUT, "no answer within 5 ms");
    const timedOut = (await authenticator().auth.authenticateOutbound(slow, features(dialbackFeature()))) as Extract<OutboundAuthResult, { outcome: "failed" }>;
    assert.deepEqual([timedOut.outcome, timedOut.fatal, timedOut.condition], ["failed", true, "remote-server-timeout"]);

    const closed = new FakeOutbound();
    closed.answer = new S2sError(ERROR_CODES.STREAM_ERROR, "stream error: invalid-from", "invalid-from");
    const refused = (await authenticator().auth.authenticateOutbound(closed, features(dialbackFeature()))) as Extract<OutboundAuthResult, { outcome: "failed" }>;
    assert.deepEqual([refused.outcome, refused.fatal, refused.condition], ["failed", true, "remote-server-not-found"]);
  });

  it("drops (and consumes) db:result and unmatched db:verify answers on an outbound stream", () => {
    const { auth } = authenticator();
    const stream = new FakeOutbound();
    assert.equal(auth.handleOutbound(stream, db("result", { from: "b.example", to: "a.example", type: "valid" })), true);
    assert.equal(auth.handleOutbound(stream, db("verify", { from: "b.example", to: "a.example", id: "nobody-asked", type: "valid" })), true);
    assert.equal(auth.handleOutbound(stream, el("message", {}, NS.SERVER)), false);
    assert.equal(stream.failures.length, 0);
  });
});
