import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/component";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";

describe("two servers federate with dialback", () => {
  let a: TestNode;
  let b: TestNode;
  let bot: TestComponent;

  before(async () => {
    const pa = await reservePorts("127.0.0.11");
    const pb = await reservePorts("127.0.0.12");
    b = await startNode({ hosts: ["b.example"], ip: pb.ip, s2s: { address: [addressOf({ ip: pa.ip, s2sPort: pa.s2sPort }, "a.example"), addressOf({ ip: pa.ip, s2sPort: pa.s2sPort }, "bot.a.example")] } }, pb);
    a = await startNode({ hosts: ["a.example"], ip: pa.ip, componentPassword: "pw", s2s: { address: [addressOf(b, "b.example")] } }, pa);
    bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  });

  after(async () => {
    await bot?.stop();
    await a?.stop();
    await b?.stop();
  });

  it("a component on A gets the echo of echo@B", async () => {
    await bot.send(xml("message", { from: "alice@bot.a.example/r", to: "echo@b.example", type: "chat", id: "m1" }, xml("body", {}, "hello ✓")));
    const echo = await bot.next((s) => s.is("message") && s.attrs.id === "m1");
    assert.equal(echo.attrs.from, "echo@b.example");
    assert.equal(echo.attrs.to, "alice@bot.a.example/r");
    assert.equal(echo.attrs.type, "chat");
    assert.equal(echo.getChildText("body"), "hello ✓");
  });

  it("1,000 messages in a burst all come back, in order", async () => {
    const count = 1000;
    for (let i = 0; i < count; i++) {
      void bot.send(xml("message", { from: "burst@bot.a.example", to: "echo@b.example", type: "chat", id: `b${i}` }, xml("body", {}, `n${i}`)));
    }
    await bot.next((s) => s.attrs.id === `b${count - 1}`, 60_000);
    const bodies = bot.received.filter((s) => s.attrs.from === "echo@b.example" && String(s.attrs.id).startsWith("b")).map((s) => s.getChildText("body"));
    assert.equal(bodies.length, count);
    assert.deepEqual(bodies, Array.from({ length: count }, (_, i) => `n${i}`));
  });

  it("ping and disco#info at the remote host", async () => {
    await bot.send(xml("iq", { from: "alice@bot.a.example", to: "b.example", type: "get", id: "p1" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    const pong = await bot.next((s) => s.attrs.id === "p1");
    assert.equal(pong.attrs.type, "result");
    await bot.send(xml("iq", { from: "alice@bot.a.example", to: "b.example", type: "get", id: "d1" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const info = await bot.next((s) => s.attrs.id === "d1");
    assert.equal(info.attrs.type, "result");
    assert.ok(info.getChild("query").getChildren("feature").some((f: any) => f.attrs.var === "urn:xmpp:ping"));
  });

  it("an IQ to nobody gets service-unavailable", async () => {
    await bot.send(xml("iq", { from: "alice@bot.a.example", to: "nobody@b.example", type: "get", id: "q1" }, xml("query", { xmlns: "jabber:iq:version" })));
    const reply = await bot.next((s) => s.attrs.id === "q1");
    assert.equal(reply.attrs.type, "error");
    assert.ok(reply.getChild("error").getChild("service-unavailable"));
  });
});
