/**
 * host_policy: `s2s.host_policy` as an exact-match table that has an opinion only about the
 * domains it lists; `s2s.default_policy` is applied after every policy by the core chain
 * (core/policy/policy-chain.ts). Policy on real streams, both directions: test/policy/.
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  configFromObject,
  createLogger,
  EventBus,
  isConfigError,
  type PluginContext,
  POLICY,
  type Policy,
  type PolicyRequest,
  type Provider,
  type S2sConfig,
} from "../../core/index.js";
import { OrderedPolicyChain } from "../../testing/index.js";
import { HostPolicy } from "./host-policy.js";
import plugin from "./index.js";
import { loadPluginsFor } from "../../test/helpers/plugins.js";

const config = (raw: { s2s?: Record<string, unknown>; plugins?: Record<string, unknown> } = {}): S2sConfig =>
  configFromObject({ general: { hosts: ["a.example"] }, ...raw }, { baseDir: process.cwd() });

/** The problem lines of the ConfigError that `make` throws. */
function problemsOf(make: () => unknown): readonly string[] {
  try {
    make();
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  return assert.fail("accepted");
}

const request = (remoteDomain: string, direction: "inbound" | "outbound" = "outbound"): PolicyRequest => ({ localDomain: "a.example", remoteDomain, direction, via: direction === "inbound" ? "dialback" : "connect" });

/** The core chain over `policies`, with the config's default, as the server builds it. */
function chain(cfg: S2sConfig, policies: Policy[]): OrderedPolicyChain {
  return new OrderedPolicyChain(cfg, policies, new EventBus(), createLogger("silent"));
}

describe("host_policy plugin", () => {
  it("rejects bad options: no plugin options; its [s2s] keys are checked with their paths", async () => {
    assert.equal(plugin.name, "host_policy");
    assert.equal(plugin.parseOptions, undefined);
    const cfg = config({ plugins: { host_policy: { deny: ["spam.example"] } } });
    await assert.rejects(loadPluginsFor(cfg), (err: unknown) => {
      assert.ok(isConfigError(err), String(err));
      assert.deepEqual(err.problems, ['plugins.host_policy.deny: unknown option (got ["spam.example"], expected no options for this plugin)']);
      return true;
    });

    const bad: Array<[Record<string, unknown>, string]> = [
      [{ default_policy: "maybe" }, "s2s.default_policy"],
      [{ default_policy: false }, "s2s.default_policy"],
      [{ host_policy: "spam.example" }, "s2s.host_policy"],
      [{ host_policy: [{ host: "spam.example" }] }, "s2s.host_policy[0].policy"],
      [{ host_policy: [{ policy: "deny" }] }, "s2s.host_policy[0].host"],
      [{ host_policy: [{ host: "spam.example", policy: "block" }] }, "s2s.host_policy[0].policy"],
      [{ host_policy: [{ host: "*.example", policy: "deny" }] }, "s2s.host_policy[0].host"],
      [{ host_policy: [{ host: "spam.example", policy: "deny", reason: "spam" }] }, "s2s.host_policy[0].reason"],
      [{ host_policy: [{ host: "Spam.example", policy: "deny" }, { host: "spam.example", policy: "allow" }] }, "s2s.host_policy[1].host"],
    ];
    for (const [s2s, path] of bad) {
      const problems = problemsOf(() => config({ s2s }));
      assert.ok(problems.some((p) => p.startsWith(`${path}: `)), `${JSON.stringify(s2s)}: expected a problem at ${path}, got\n${problems.join("\n")}`);
    }
  });

  it("declares the Policy slot, owns host_policy and default_policy, and registers a HostPolicy of the config's table", async () => {
    assert.deepEqual(plugin.provides, [POLICY]);
    assert.deepEqual(plugin.s2sOptions, ["host_policy", "default_policy"]);
    const provided: Array<[unknown, Provider<unknown>]> = [];
    await plugin.register({
      config: config({ s2s: { host_policy: [{ host: "spam.example", policy: "deny" }] } }),
      options: {},
      provide: (token: unknown, provider: Provider<unknown>) => void provided.push([token, provider]),
    } as unknown as PluginContext<Record<string, never>>);
    assert.equal(provided.length, 1);
    const [token, provider] = provided[0]!;
    assert.equal(token, POLICY);
    assert.ok("useValue" in provider && provider.useValue instanceof HostPolicy);
    assert.equal(provider.useValue.name, "host_policy");
    assert.equal(provider.useValue.decide(request("spam.example")), "deny");
  });
});

describe("HostPolicy", () => {
  const policy = new HostPolicy(config({ s2s: { host_policy: [{ host: "partner.example", policy: "allow" }, { host: "spam.example", policy: "deny" }] } }).s2s.hostPolicy);

  it("decides listed domains, in both directions", () => {
    for (const direction of ["inbound", "outbound"] as const) {
      assert.equal(policy.decide(request("partner.example", direction)), "allow");
      assert.equal(policy.decide(request("spam.example", direction)), "deny");
    }
  });

  it("has no opinion on a domain it does not list (later policies, then default_policy, decide)", () => {
    assert.equal(policy.decide(request("other.example")), undefined);
    assert.equal(new HostPolicy([]).decide(request("spam.example")), undefined);
  });

  it("matches exactly: no wildcards, sub-domains and parents do not inherit", () => {
    assert.equal(policy.decide(request("muc.spam.example")), undefined);
    assert.equal(policy.decide(request("example")), undefined);
    assert.equal(policy.decide(request("spam.example.org")), undefined);
  });

  it("the config layer normalises hosts: BÜCHER.example is matched as xn--bcher-kva.example", () => {
    const cfg = config({ s2s: { host_policy: [{ host: "BÜCHER.example", policy: "deny" }] } });
    assert.deepEqual(cfg.s2s.hostPolicy, [{ host: "xn--bcher-kva.example", policy: "deny" }]);
    const idna = new HostPolicy(cfg.s2s.hostPolicy);
    assert.equal(idna.decide(request("xn--bcher-kva.example")), "deny");
    // A trailing dot is dropped too.
    assert.equal(new HostPolicy(config({ s2s: { host_policy: [{ host: "Spam.Example.", policy: "deny" }] } }).s2s.hostPolicy).decide(request("spam.example")), "deny");
  });
});

describe("host_policy in the core chain", () => {
  const table = { host_policy: [{ host: "partner.example", policy: "allow" }, { host: "BÜCHER.example", policy: "deny" }] };

  it("default_policy decides the domains host_policy does not list", async () => {
    const allowing = config({ s2s: table });
    assert.equal(allowing.s2s.defaultPolicy, "allow", "the default default is allow");
    assert.equal(await chain(allowing, [new HostPolicy(allowing.s2s.hostPolicy)]).decide(request("other.example")), "allow");
    const denying = config({ s2s: { ...table, default_policy: "deny" } });
    const decide = (domain: string) => chain(denying, [new HostPolicy(denying.s2s.hostPolicy)]).decide(request(domain, "inbound"));
    assert.equal(await decide("other.example"), "deny");
    assert.equal(await decide("partner.example"), "allow", "an entry wins over default_policy");
    assert.equal(await decide("muc.partner.example"), "deny", "no inheritance: the default applies");
  });

  it("the chain normalises the remote domain before asking, so any spelling of a listed name matches", async () => {
    const cfg = config({ s2s: table });
    const policies = [new HostPolicy(cfg.s2s.hostPolicy)];
    const cases: Array<[string, string]> = [["xn--bcher-kva.example", "deny"], ["bücher.example", "deny"], ["BÜCHER.EXAMPLE", "deny"], ["Partner.Example", "allow"]];
    for (const [spelling, verdict] of cases) assert.equal(await chain(cfg, policies).decide(request(spelling)), verdict, spelling);
  });

  it("a policy listed before host_policy with an opinion wins; one without an opinion passes to host_policy", async () => {
    const cfg = config({ s2s: { ...table, default_policy: "deny" } });
    const hostPolicy = new HostPolicy(cfg.s2s.hostPolicy);
    const allowAll: Policy = { name: "allow_all", decide: () => "allow" };
    const silent: Policy = { name: "silent", decide: () => undefined };
    assert.equal(await chain(cfg, [allowAll, hostPolicy]).decide(request("xn--bcher-kva.example")), "allow");
    assert.equal(await chain(cfg, [silent, hostPolicy]).decide(request("xn--bcher-kva.example")), "deny");
    assert.equal(await chain(cfg, [silent, hostPolicy]).decide(request("partner.example")), "allow");
  });
});
