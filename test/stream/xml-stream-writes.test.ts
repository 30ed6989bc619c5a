import "reflect-metadata";
import { once } from "node:events";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { el, NS, serialize } from "../../core/xml/element.js";
import { writingXmlStream } from "../helpers/xml-stream.js";
import { eventually } from "../helpers/wait.js";

/**
 * XmlStream gathers the writes of one turn of the event loop into one socket write (in pieces of
 * about 64 Ki characters), and checks the socket only for the first one (the flush checks it
 * again): over a real loopback connection, what reaches the peer is every write in order, and
 * nothing once the stream is closed or destroyed, even within the same turn.
 */
describe("XmlStream writes of one turn", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function open() {
    const opened = await writingXmlStream({ allowHalfOpen: true });
    cleanups.push(opened.close);
    return opened;
  }

  const stanza = (id: string) => el("message", { from: "a.example", to: "b.example", id }, NS.SERVER, el("body", {}, undefined, `m${id}`));
  const text = (id: string) => serialize(stanza(id), NS.SERVER);

  it("sends everything written in one turn, in order", async () => {
    const { xml, text: received } = await open();
    xml.send(stanza("1"));
    xml.sendMany([stanza("2"), stanza("3")]);
    xml.sendSerialized(text("4"));
    xml.sendSerialized("");
    xml.sendManyKept([stanza("5")]);
    const expected = ["1", "2", "3", "4", "5"].map(text).join("");
    await eventually(() => received() === expected, undefined, `the peer reads ${expected}`);
    // A later turn starts a new write.
    xml.send(stanza("6"));
    await eventually(() => received() === expected + text("6"), undefined, "the next turn's stanza follows");
  });

  it("writes a turn larger than one write's worth in pieces, all of it, in order", async () => {
    const { xml, server, text: received } = await open();
    const writes: number[] = [];
    const write = server.write.bind(server) as (data: string) => boolean;
    server.write = ((data: string) => (writes.push(data.length), write(data))) as typeof server.write;
    const ids = Array.from({ length: 6000 }, (_, i) => String(i));
    for (const id of ids) xml.send(stanza(id));
    const expected = ids.map(text).join("");
    await eventually(() => received().length >= expected.length, undefined, `the peer reads ${expected.length} characters`);
    assert.equal(received(), expected);
    assert.ok(writes.length >= 3 && writes.length < 100, `${writes.length} socket writes for ${expected.length} characters`);
    assert.ok(Math.max(...writes) <= 64 * 1024, `no write above 64 Ki characters (largest ${Math.max(...writes)})`);
  });

  it("writes nothing after close() in the same turn, and the closing tag after what came before", async () => {
    const { xml, peer, text: received } = await open();
    xml.sendHeader({ version: "1.0" });
    await eventually(() => received().endsWith("'1.0'>"), undefined, "the header is read");
    const header = received();
    xml.send(stanza("1"));
    xml.close();
    xml.send(stanza("2"));
    xml.sendSerialized(text("3"));
    await once(peer, "end");
    assert.equal(received(), header + text("1") + "</stream:stream>");
  });

  it("writes nothing once destroyed in the same turn, not even what was written before", async () => {
    const { xml, server, peer, text: received } = await open();
    xml.send(stanza("1"));
    xml.destroy("test");
    xml.send(stanza("2"));
    assert.equal(server.destroyed, true);
    await once(peer, "end");
    assert.equal(received(), "");
  });
});
