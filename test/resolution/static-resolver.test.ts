import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/component";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { reservePorts, startNode, type TestNode } from "../helpers/servers.js";

/**
 * The Resolver slot is swappable through TOML alone (swap by providing, never by patching): the same two servers as
 * test/federation/dialback-echo.test.ts, with no `s2s.address` and no DNS, only
 * `[plugins] resolver = "static_resolver"` and its `hosts` table.
 */
describe("switching to the static resolver is a TOML-only change", () => {
  let a: TestNode;
  let b: TestNode;
  let bot: TestComponent;

  before(async () => {
    const pa = await reservePorts("127.0.0.61");
    const pb = await reservePorts("127.0.0.62");
    const staticPlugins = (hosts: Array<Record<string, unknown>>) => ({ resolver: "static_resolver", static_resolver: { hosts } });
    b = await startNode(
      {
        hosts: ["b.example"],
        ip: pb.ip,
        plugins: staticPlugins([
          { domain: "a.example", host: pa.ip, port: pa.s2sPort },
          { domain: "bot.a.example", host: pa.ip, port: pa.s2sPort },
        ]),
      },
      pb,
    );
    a = await startNode({ hosts: ["a.example"], ip: pa.ip, componentPassword: "pw", plugins: staticPlugins([{ domain: "b.example", host: pb.ip, port: pb.s2sPort }]) }, pa);
    bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  });

  after(async () => {
    await bot?.stop();
    await a?.stop();
    await b?.stop();
  });

  it("the resolver slot is filled by static_resolver, not dns", () => {
    assert.deepEqual(a.server.plugins?.slots.resolver, ["static_resolver"]);
    assert.equal(a.server.plugins?.names.includes("dns"), false);
  });

  it("a component on A gets the echo of echo@B", async () => {
    await bot.send(xml("message", { from: "alice@bot.a.example/r", to: "echo@b.example", type: "chat", id: "s1" }, xml("body", {}, "static ✓")));
    const echo = await bot.next((s) => s.attrs.id === "s1");
    assert.equal(echo.attrs.type, "chat");
    assert.equal(echo.attrs.from, "echo@b.example");
    assert.equal(echo.getChildText("body"), "static ✓");
  });

  it("a domain missing from the table bounces at once with remote-server-not-found", async () => {
    await bot.send(xml("message", { from: "alice@bot.a.example/r", to: "echo@elsewhere.example", type: "chat", id: "s2" }, xml("body", {}, "?")));
    const bounce = await bot.next((s) => s.attrs.id === "s2");
    assert.equal(bounce.attrs.type, "error");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-not-found"), bounce.toString());
  });
});
