/**
 * host_services: XEP-0199 ping and XEP-0030 disco#info at each bare local host. A fake Router
 * records the answers; one test runs the core router to show what happens to what the plugin
 * does not take. Ping and disco across two servers: test/federation/dialback-echo.test.ts.
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { DependencyContainer } from "tsyringe";
import {
  createLogger,
  el,
  EventBus,
  isConfigError,
  LOCAL_DELIVERY,
  type LocalDelivery,
  NS,
  type OutboundSessions,
  type PluginContext,
  type Provider,
  ROUTER,
  type XmlElement,
} from "../../core/index.js";
import { CoreRouter } from "../../testing/index.js";
import { loadPluginsFor, RecordingRouter, twoHostConfig } from "../../test/helpers/plugins.js";
import { HostServices } from "./host-services.js";
import plugin from "./index.js";

const config = twoHostConfig;

function services(hosts = ["a.example", "b.example"]): { service: HostServices; router: RecordingRouter } {
  const router = new RecordingRouter(["a.example", "b.example"], "host services");
  return { service: new HostServices(hosts, () => router), router };
}

const iq = (attrs: Record<string, string>, payload?: XmlElement) => el("iq", attrs, NS.SERVER, payload);
const ping = () => el("ping", {}, NS.PING);
const discoInfo = (node?: string) => el("query", { node }, NS.DISCO_INFO);

describe("host_services plugin", () => {
  it("rejects bad options: it has none, any key is refused with its path", async () => {
    assert.equal(plugin.name, "host_services");
    assert.equal(plugin.parseOptions, undefined);
    await assert.rejects(loadPluginsFor(config({ host_services: { identity_name: "my server" } })), (err: unknown) => {
      assert.ok(isConfigError(err), String(err));
      assert.deepEqual(err.problems, ['plugins.host_services.identity_name: unknown option (got "my server", expected no options for this plugin)']);
      return true;
    });
  });

  it("is last in the default local_delivery list; enabled = false removes it", async () => {
    assert.deepEqual((await loadPluginsFor(config())).slots.local_delivery, ["components", "echo", "host_services"]);
    assert.deepEqual((await loadPluginsFor(config({ host_services: { enabled: false } }))).slots.local_delivery, ["components", "echo"]);
  });

  it("registers a LocalDelivery built with the server's router", async () => {
    assert.deepEqual(plugin.provides, [LOCAL_DELIVERY]);
    let provider: Provider<unknown> | undefined;
    await plugin.register({
      config: config(),
      options: {},
      provide: (_token: unknown, p: Provider<unknown>) => void (provider = p),
    } as unknown as PluginContext<Record<string, never>>);
    assert.ok(provider && "useFactory" in provider);
    const router = new RecordingRouter(["a.example", "b.example"], "host services");
    let resolved = 0;
    const delivery = provider.useFactory({ resolve: (token: unknown) => (assert.equal(token, ROUTER), resolved++, router) } as unknown as DependencyContainer) as LocalDelivery;
    assert.equal(delivery.name, "host_services");
    assert.equal(resolved, 1, "in the factory: the core builds the router before any local delivery (core/server/compose.ts)");
    assert.equal(delivery.deliver(iq({ from: "u@remote.example", to: "b.example", type: "get", id: "p0" }, ping())), true);
    assert.equal(resolved, 1, "once");
    assert.equal(router.routed.length, 1);
  });
});

describe("HostServices", () => {
  it("answers a ping to the host with an empty result, addresses swapped, same id (XEP-0199 §4)", () => {
    const { service, router } = services();
    assert.equal(service.deliver(iq({ from: "alice@remote.example/r", to: "a.example", type: "get", id: "p1" }, ping())), true);
    assert.equal(router.routed.length, 1);
    const [pong] = router.routed;
    assert.equal(pong!.name, "iq");
    assert.equal(pong!.ns, NS.SERVER);
    assert.deepEqual(pong!.attrs, { type: "result", id: "p1", from: "a.example", to: "alice@remote.example/r" });
    assert.equal(pong!.children.length, 0);
  });

  it("answers disco#info with the server/im identity and the features it serves (XEP-0030 §3.1)", () => {
    const { service, router } = services();
    assert.equal(service.deliver(iq({ from: "u@bot.a.example", to: "b.example", type: "get", id: "d1" }, discoInfo())), true);
    const [result] = router.routed;
    assert.deepEqual(result!.attrs, { type: "result", id: "d1", from: "b.example", to: "u@bot.a.example" });
    const query = result!.getChild("query", NS.DISCO_INFO);
    assert.ok(query, "a disco#info query");
    assert.equal(query.attr("node"), undefined);
    const identities = query.getChildren("identity", NS.DISCO_INFO).map((i) => [i.attr("category"), i.attr("type")]);
    assert.deepEqual(identities, [["server", "im"]]);
    const features = query.getChildren("feature", NS.DISCO_INFO).map((f) => f.attr("var")).sort();
    assert.deepEqual(features, [NS.DISCO_INFO, NS.PING].sort());
  });

  it("does not take disco#info for a node, an iq set, results and errors, or unknown payloads", () => {
    const { service, router } = services();
    const notTaken = [
      iq({ from: "u@remote.example", to: "a.example", type: "get", id: "n1" }, discoInfo("http://jabber.org/protocol/commands")),
      iq({ from: "u@remote.example", to: "a.example", type: "set", id: "n2" }, ping()),
      iq({ from: "u@remote.example", to: "a.example", type: "set", id: "n3" }, discoInfo()),
      iq({ from: "u@remote.example", to: "a.example", type: "result", id: "n4" }),
      iq({ from: "u@remote.example", to: "a.example", type: "error", id: "n5" }, ping()),
      iq({ from: "u@remote.example", to: "a.example", type: "get", id: "n6" }, el("query", {}, "jabber:iq:version")),
      iq({ from: "u@remote.example", to: "a.example", type: "get", id: "n7" }, el("query", {}, "http://jabber.org/protocol/disco#items")),
      iq({ from: "u@remote.example", to: "a.example", type: "get", id: "n8" }, el("ping", {}, "urn:xmpp:not-ping")),
      iq({ from: "u@remote.example", to: "a.example", type: "get", id: "n9" }),
    ];
    for (const stanza of notTaken) assert.equal(service.deliver(stanza), false, stanza.toString());
    assert.equal(router.routed.length, 0);
  });

  it("answers only the bare host: a user, a resource or another domain is not taken, nor messages and presence", () => {
    const { service, router } = services(["a.example"]);
    for (const to of ["user@a.example", "a.example/res", "echo@a.example", "b.example", "sub.a.example"]) {
      assert.equal(service.deliver(iq({ from: "u@remote.example", to, type: "get", id: "u1" }, ping())), false, to);
    }
    assert.equal(service.deliver(el("message", { from: "u@remote.example", to: "a.example" }, NS.SERVER, el("body", {}, NS.SERVER, "hi"))), false);
    assert.equal(service.deliver(el("presence", { from: "u@remote.example", to: "a.example" }, NS.SERVER)), false);
    assert.equal(router.routed.length, 0);
  });

  it("with the core router: what host_services does not take is answered service-unavailable", () => {
    const cfg = config();
    const sent: Array<{ local: string; remote: string; stanza: XmlElement }> = [];
    const outbound = { send: (local: string, remote: string, stanza: XmlElement) => void sent.push({ local, remote, stanza }) } as unknown as OutboundSessions;
    // Wired as core/server/compose.ts wires it: the router first, then what it delivers to.
    const router = new CoreRouter(cfg, createLogger("silent"), new EventBus());
    const hostServices = new HostServices(cfg.general.hosts, () => router);
    router.wire({ deliveries: [hostServices], outbound });
    // As if they came over S2S from remote.example.
    router.deliverLocal(iq({ from: "u@remote.example/r", to: "a.example", type: "get", id: "ok" }, ping()));
    router.deliverLocal(iq({ from: "u@remote.example/r", to: "a.example", type: "get", id: "node" }, discoInfo("some-node")));
    assert.deepEqual(sent.map((s) => [s.local, s.remote, s.stanza.attr("id"), s.stanza.attr("type")]), [
      ["a.example", "remote.example", "ok", "result"],
      ["a.example", "remote.example", "node", "error"],
    ]);
    const error = sent[1]!.stanza.getChild("error");
    assert.equal(error?.attr("type"), "cancel");
    assert.ok(error?.getChild("service-unavailable", NS.STANZA_ERRORS));
  });
});
