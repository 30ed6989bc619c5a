/**
 * echo@<host>: what the service takes, what it sends back, and what it leaves to the router.
 * A fake Router records the replies; the echo across two federating servers is in
 * test/federation/dialback-echo.test.ts.
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { DependencyContainer } from "tsyringe";
import {
  el,
  isConfigError,
  LOCAL_DELIVERY,
  type LocalDelivery,
  NS,
  type PluginContext,
  type Provider,
  ROUTER,
  type XmlElement,
} from "../../core/index.js";
import { loadPluginsFor, RecordingRouter, twoHostConfig } from "../../test/helpers/plugins.js";
import { EchoService } from "./echo-service.js";
import plugin from "./index.js";

const config = twoHostConfig;

function echo(hosts = ["a.example", "b.example"]): { service: EchoService; router: RecordingRouter } {
  const router = new RecordingRouter(["a.example", "b.example"], "echo");
  return { service: new EchoService(hosts, () => router), router };
}

const message = (attrs: Record<string, string | undefined>, ...children: XmlElement[]) => el("message", attrs, NS.SERVER, ...children);
const body = (text: string) => el("body", {}, NS.SERVER, text);

describe("echo plugin", () => {
  it("rejects bad options: it has none (any key is refused with its path); enabled must be a boolean", async () => {
    assert.equal(plugin.name, "echo");
    assert.equal(plugin.parseOptions, undefined);
    await assert.rejects(loadPluginsFor(config({ echo: { reply_to: "all" } })), (err: unknown) => {
      assert.ok(isConfigError(err), String(err));
      assert.deepEqual(err.problems, ['plugins.echo.reply_to: unknown option (got "all", expected no options for this plugin)']);
      return true;
    });
    await assert.rejects(loadPluginsFor(config({ echo: { enabled: "no" } })), (err: unknown) => {
      assert.ok(isConfigError(err), String(err));
      assert.equal(err.problems.length, 1);
      assert.match(err.problems[0]!, /^plugins\.echo\.enabled: expected a boolean/);
      return true;
    });
  });

  it("is in the default local_delivery list, after components; enabled = false removes it", async () => {
    assert.deepEqual((await loadPluginsFor(config())).slots.local_delivery, ["components", "echo", "host_services"]);
    const off = await loadPluginsFor(config({ echo: { enabled: false } }));
    assert.deepEqual(off.slots.local_delivery, ["components", "host_services"]);
    assert.ok(!off.names.includes("echo"));
  });

  it("registers a LocalDelivery for the configured hosts, built with the server's router", async () => {
    assert.deepEqual(plugin.provides, [LOCAL_DELIVERY]);
    let provider: Provider<unknown> | undefined;
    await plugin.register({
      config: config(),
      options: {},
      provide: (token: unknown, p: Provider<unknown>) => {
        assert.equal(token, LOCAL_DELIVERY);
        provider = p;
      },
    } as unknown as PluginContext<Record<string, never>>);
    assert.ok(provider && "useFactory" in provider);
    const router = new RecordingRouter(["a.example", "b.example"], "echo");
    let resolved = 0;
    const container = {
      resolve: (token: unknown) => {
        assert.equal(token, ROUTER);
        resolved++;
        return router;
      },
    } as unknown as DependencyContainer;
    const delivery = provider.useFactory(container) as LocalDelivery;
    assert.equal(delivery.name, "echo");
    assert.equal(resolved, 1, "in the factory: the core builds the router before any local delivery (core/server/compose.ts)");
    assert.equal(delivery.deliver(message({ from: "u@remote.example", to: "echo@b.example" }, body("hi"))), true);
    assert.equal(resolved, 1, "once");
    assert.equal(router.routed.length, 1);
  });
});

describe("EchoService", () => {
  it("sends a message body back to its sender, from the bare echo address, with the same type and id", () => {
    const { service, router } = echo();
    const taken = service.deliver(message({ from: "alice@remote.example/phone", to: "echo@a.example/any", type: "chat", id: "m1" }, body("hello ✓ <&>")));
    assert.equal(taken, true);
    assert.equal(router.routed.length, 1);
    const [reply] = router.routed;
    assert.equal(reply!.name, "message");
    assert.equal(reply!.ns, NS.SERVER);
    assert.deepEqual(reply!.attrs, { from: "echo@a.example", to: "alice@remote.example/phone", type: "chat", id: "m1" });
    assert.equal(reply!.getChildText("body"), "hello ✓ <&>");
    assert.equal(reply!.getChildren().length, 1, "only the body comes back");
  });

  it("answers at every local host, whatever the case of the address; a message without type stays without", () => {
    const { service, router } = echo();
    assert.equal(service.deliver(message({ from: "u@bot.a.example", to: "Echo@B.Example", id: "m2" }, body("x"))), true);
    assert.deepEqual(router.routed[0]!.attrs, { from: "echo@b.example", to: "u@bot.a.example", id: "m2" });
  });

  it("takes a message without a body but sends nothing", () => {
    const { service, router } = echo();
    assert.equal(service.deliver(message({ from: "u@remote.example", to: "echo@a.example", id: "m3" }, el("composing", {}, "http://jabber.org/protocol/chatstates"))), true);
    assert.equal(router.routed.length, 0);
  });

  it("never answers an error message (RFC 6120 §10.4.3), nor one without a sender", () => {
    const { service, router } = echo();
    assert.equal(service.deliver(message({ from: "u@remote.example", to: "echo@a.example", type: "error", id: "m4" }, body("bounced"), el("error", { type: "cancel" }, NS.SERVER))), true);
    assert.equal(service.deliver(message({ to: "echo@a.example", id: "m5" }, body("from nobody"))), true);
    assert.equal(router.routed.length, 0);
  });

  it("does not take presence or IQ to echo@ (the router answers them as usual)", () => {
    const { service, router } = echo();
    assert.equal(service.deliver(el("presence", { from: "u@remote.example", to: "echo@a.example" }, NS.SERVER)), false);
    assert.equal(service.deliver(el("iq", { from: "u@remote.example", to: "echo@a.example", type: "get", id: "i1" }, NS.SERVER, el("ping", {}, NS.PING))), false);
    assert.equal(router.routed.length, 0);
  });

  it("does not take messages for other addresses", () => {
    const { service, router } = echo(["a.example"]);
    for (const to of ["bob@a.example", "a.example", "echo@b.example", "echo@sub.a.example", "echo.a.example", "xecho@a.example"]) {
      assert.equal(service.deliver(message({ from: "u@remote.example", to }, body("x"))), false, to);
    }
    assert.equal(service.deliver(message({ from: "u@remote.example" }, body("no to"))), false);
    assert.equal(router.routed.length, 0);
  });
});
