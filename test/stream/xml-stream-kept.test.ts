import "reflect-metadata";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { el, NS, serialize } from "../../core/xml/element.js";
import { writingXmlStream } from "../helpers/xml-stream.js";
import { eventually } from "../helpers/wait.js";

/** XmlStream.sendManyKept / sendSerialized (the texts XEP-0198 keeps until acked) over a real loopback connection. */
describe("XmlStream keeps what it wrote for XEP-0198", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function open() {
    const opened = await writingXmlStream();
    cleanups.push(opened.close);
    return opened;
  }

  it("returns each stanza's text exactly as written, and writes them in order", async () => {
    const { xml, text } = await open();
    const stanzas = [
      // A component's stanza is written in the stream's namespace (RFC 6120 §4.8.3).
      el("message", { from: "c.a.example", to: "b.example", id: "1" }, NS.COMPONENT, el("body", {}, undefined, "one & two")),
      el("iq", { from: "a.example", to: "b.example", id: "2", type: "get" }, NS.SERVER, el("ping", {}, NS.PING)),
    ];
    const kept = xml.sendManyKept(stanzas);
    assert.deepEqual(kept, stanzas.map((s) => serialize(s, s.ns)));
    xml.sendSerialized(kept[1]!);
    xml.sendSerialized("");
    const expected = kept.join("") + kept[1];
    await eventually(() => text() === expected, undefined, `the peer reads ${expected}`);
    assert.equal(text(), expected);
  });

  it("returns an empty list and writes nothing for an empty batch", async () => {
    const { xml } = await open();
    assert.deepEqual(xml.sendManyKept([]), []);
  });
});
