/**
 * XEP-0198 on our outbound streams, on the wire: A sends to b.example, a scripted receiving server
 * (fake-receiver.ts) that the test answers by hand. Enable with resumption after authentication,
 * one `<r/>` per write batch, `<r/>` answered `h='0'`, resumption on a new connection resending
 * exactly what `h` leaves, a refused resumption bouncing each unacknowledged stanza once
 * (`remote-server-timeout`), an impossible `h` closing the stream, and a peer without SM getting
 * nothing of it.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { S2sEvent } from "../../core/events/events.js";
import { el, type XmlElement } from "../../core/xml/element.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { FakeReceiver } from "./fake-receiver.js";
import { VirtualClock } from "../../core/clock/virtual-clock.js";

const SM = "urn:xmpp:sm:3";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const ids = (text: string) => [...text.matchAll(/<message [^>]*id='(m\d+)'/g)].map((m) => m[1]);

describe("XEP-0198 on the wire (outbound)", () => {
  let a: TestNode;
  let b: FakeReceiver;
  let plain: FakeReceiver;
  const events: S2sEvent[] = [];
  const bounces: XmlElement[] = [];

  before(async () => {
    b = await FakeReceiver.start("127.0.32.12", "b.example");
    plain = await FakeReceiver.start("127.0.32.13", "plain.example", false);
    const address = [
      { host: "b.example", ip_address: b.ip, port: b.port },
      { host: "plain.example", ip_address: plain.ip, port: plain.port },
    ];
    a = await startNode({ hosts: ["a.example"], ip: "127.0.32.11", s2s: { address } });
    a.server.events$.subscribe((e) => events.push(e));
    a.server.stanzas$.subscribe((s) => s.attr("type") === "error" && bounces.push(s));
  });

  after(async () => {
    await a?.stop();
    b?.close();
    plain?.close();
  });

  const send = (to: string, ...numbers: number[]) => {
    for (const n of numbers) a.server.send(el("message", { from: "u@a.example", to, id: `m${n}` }, "jabber:server", el("body", {}, "jabber:server", String(n))));
  };

  it("enables with resumption after authentication, asks once per write batch, answers <r/> with h='0'", async () => {
    send("x@b.example", 1, 2, 3);
    const c = await b.connection(0);
    await c.waitFor(new RegExp(`<enable xmlns='${SM}' resume='true'/>`));
    assert.doesNotMatch(c.text.slice(0, c.text.indexOf("<enable")), /<message/, "nothing is sent before SM is settled");
    c.write(`<enabled xmlns='${SM}' id='sm1' resume='true' max='30'/>`);
    await c.waitFor(new RegExp(`id='m3'[\\s\\S]*<r xmlns='${SM}'/>`));
    assert.deepEqual(ids(c.text), ["m1", "m2", "m3"]);
    assert.equal(c.count(/<r xmlns='urn:xmpp:sm:3'\/>/), 1, "one request for the batch");
    c.write(`<r xmlns='${SM}'/>`);
    await c.waitFor(new RegExp(`<a xmlns='${SM}' h='0'/>`));
    c.write(`<a xmlns='${SM}' h='3'/>`);
    assert.ok(events.some((e) => e.type === "sm_enabled" && e.direction === "outbound" && e.resume));
  });

  it("resumes on a new connection and writes again exactly what h leaves, in order, before the queue", async () => {
    const c = await b.connection(0);
    send("x@b.example", 4, 5, 6);
    await c.waitFor(/id='m6'[\s\S]*<r xmlns='urn:xmpp:sm:3'\/>/);
    // The link breaks before any ack: m4..m6 are written, unacknowledged.
    c.destroy();
    const d = await b.connection(1);
    await d.waitFor(new RegExp(`<resume xmlns='${SM}' previd='sm1' h='0'/>`));
    send("x@b.example", 7); // queued while the new stream resumes
    d.write(`<resumed xmlns='${SM}' previd='sm1' h='4'/>`);
    await d.waitFor(/id='m7'/);
    assert.deepEqual(ids(d.text), ["m5", "m6", "m7"], "m4 was handled (h=4): not written again");
    const resumed = events.find((e) => e.type === "sm_resumed");
    assert.ok(resumed && resumed.type === "sm_resumed" && resumed.h === 4 && resumed.resent === 2, JSON.stringify(resumed));
    assert.equal(bounces.length, 0);
  });

  it("a refused resumption bounces each unacknowledged stanza once (remote-server-timeout), then SM starts afresh", async () => {
    const d = await b.connection(1);
    d.write(`<a xmlns='${SM}' h='6'/>`); // m5, m6 handled; m7 not acknowledged
    await eventually(() => d.count(/<r xmlns='urn:xmpp:sm:3'\/>/) >= 1, undefined, "a request on the resumed stream");
    d.destroy();
    const e = await b.connection(2);
    await e.waitFor(/<resume xmlns='urn:xmpp:sm:3' previd='sm1' h='0'\/>/);
    const bounced = waitFor(a.server.stanzas$, (s) => s.attr("id") === "m7" && s.attr("type") === "error");
    e.write(`<failed xmlns='${SM}' h='6'><item-not-found xmlns='${STANZAS}'/></failed>`);
    const bounce = await bounced;
    assert.equal(bounce.getChild("error")?.attr("type"), "wait");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-timeout", STANZAS));
    await e.waitFor(new RegExp(`<enable xmlns='${SM}' resume='true'/>`));
    e.write(`<enabled xmlns='${SM}' id='sm2' resume='true'/>`);
    send("x@b.example", 8);
    await e.waitFor(/id='m8'/);
    assert.deepEqual(ids(e.text), ["m8"], "m7 is not written again after the refusal");
    assert.equal(bounces.filter((s) => s.attr("id") === "m7").length, 1, "bounced once");
    assert.deepEqual(bounces.map((s) => s.attr("id")), ["m7"]);
    const failed = events.filter((x) => x.type === "sm_resume_failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.type === "sm_resume_failed" && failed[0]!.bounced, 1);
  });

  it("an h beyond what was sent closes the stream with undefined-condition (handled-count-too-high)", async () => {
    const e = await b.connection(2);
    e.write(`<a xmlns='${SM}' h='99'/>`);
    await e.waitFor(/<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text[^>]*>handled-count-too-high/);
  });

  it("a peer that does not offer SM gets no SM element at all", async () => {
    send("x@plain.example", 20, 21);
    const p = await plain.connection(0);
    await p.waitFor(/id='m21'/);
    assert.doesNotMatch(p.text, /urn:xmpp:sm:3/);
  });
});

describe("XEP-0198: the resume window (virtual clock)", () => {
  let a: TestNode;
  let b: FakeReceiver;
  const clock = new VirtualClock(Date.now());

  before(async () => {
    b = await FakeReceiver.start("127.0.32.15", "b.example");
    a = await startNode({ hosts: ["a.example"], ip: "127.0.32.14", clock, s2s: { address: [{ host: "b.example", ip_address: b.ip, port: b.port }] }, plugins: { stream_management: { resume_window: 5 } } });
  });

  after(async () => {
    await a?.stop();
    b?.close();
  });

  it("a link not resumed within resume_window bounces its unacknowledged stanzas once, remote-server-timeout", async () => {
    a.server.send(el("message", { from: "u@a.example", to: "x@b.example", id: "w1" }, "jabber:server"));
    const c = await b.connection(0);
    await c.waitFor(/<enable xmlns='urn:xmpp:sm:3' resume='true'\/>/);
    c.write(`<enabled xmlns='${SM}' id='smw' resume='true' max='3600'/>`);
    await c.waitFor(/id='w1'/);
    c.destroy();
    // The pair reconnects at once and asks to resume; this peer never answers.
    const d = await b.connection(1);
    await d.waitFor(/<resume xmlns='urn:xmpp:sm:3' previd='smw' h='0'\/>/);
    const bounces: XmlElement[] = [];
    const sub = a.server.stanzas$.subscribe((s) => s.attr("id") === "w1" && bounces.push(s));
    try {
      clock.advance(4_900);
      await new Promise((r) => setImmediate(r));
      assert.equal(bounces.length, 0, "still within the window (ours: 5 s; the peer's max is longer)");
      clock.advance(200);
      await eventually(() => bounces.length > 0, undefined, "the bounce after the window");
      assert.ok(bounces[0]!.getChild("error")?.getChild("remote-server-timeout", STANZAS));
      clock.advance(60_000);
      await new Promise((r) => setImmediate(r));
      assert.equal(bounces.length, 1, "bounced once");
    } finally {
      sub.unsubscribe();
    }
  });
});
