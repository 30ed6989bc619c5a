/**
 * RFC 6120 §4.9.3 stream header errors over a real socket: a raw peer opens an S2S stream with
 * a broken header and must read, in this order, our response header (§4.9.1.2: the receiving
 * entity sends its own header before the error), `<stream:error>` with the condition in
 * urn:ietf:params:xml:ns:xmpp-streams, `</stream:stream>`, and then see the connection close.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startNode, type TestNode } from "../helpers/servers.js";
import { parseStream, RawPeer, streamHeader, type WireElement } from "../helpers/raw-peer.js";

const NS_STREAM = "http://etherx.jabber.org/streams";
const NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams";
const NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback";
const IP = "127.0.0.41";

describe("stream header errors (RFC 6120 §4.9.3) over a real socket", () => {
  let node: TestNode;
  const peers: RawPeer[] = [];

  before(async () => {
    node = await startNode({ hosts: ["a.example", "b.example"], ip: IP });
  });

  after(async () => {
    for (const p of peers) p.destroy();
    await node?.stop();
  });

  async function open(): Promise<RawPeer> {
    const peer = await RawPeer.connect(node.ip, node.s2sPort);
    peers.push(peer);
    return peer;
  }

  /** Send `bytes` as the opening of a stream; return what came back once the server closed the connection. */
  async function rejected(bytes: string, condition: string): Promise<{ root: WireElement; error: WireElement }> {
    const peer = await open();
    peer.write(bytes);
    await peer.closed();
    const { root, ended, error: xmlError } = parseStream(peer.text);
    assert.equal(xmlError, undefined, `the server's bytes are not well-formed:\n${peer.text}`);
    assert.ok(root, `no response header before the close:\n${peer.text}`);
    // §4.9.1.2: our own header first, so the peer can parse the error.
    assert.equal(root.name, "stream");
    assert.equal(root.ns, NS_STREAM);
    assert.equal(root.attrs.version, "1.0");
    assert.match(root.attrs.id ?? "", /^\S{16,}$/, "the response header carries a stream id");
    assert.match(peer.text, /^<\?xml[^>]*\?>\s*<stream:stream\b/, "the response starts with our stream header");
    // Then exactly one first-level element: the stream error, nothing else (no features).
    assert.equal(root.children.length, 1, `expected only <stream:error>, got ${root.children.map((c) => c.name).join(", ")}`);
    const error = root.children[0]!;
    assert.equal(error.name, "error");
    assert.equal(error.ns, NS_STREAM);
    const conditions = error.children.filter((c) => c.ns === NS_STREAM_ERRORS && c.name !== "text");
    assert.deepEqual(conditions.map((c) => c.name), [condition]);
    // Then </stream:stream>: the document is complete, and nothing follows it.
    assert.ok(ended, `no </stream:stream> before the close:\n${peer.text}`);
    assert.match(peer.text, /<\/stream:error>\s*<\/stream:stream>\s*$/);
    return { root, error };
  }

  it("wrong stream namespace -> invalid-namespace", async () => {
    await rejected(streamHeader({ to: "a.example", from: "c.example" }, { streamNs: "http://example.com/not-streams" }), "invalid-namespace");
  });

  it("wrong content namespace (jabber:client on an S2S port) -> invalid-namespace", async () => {
    await rejected(streamHeader({ to: "a.example", from: "c.example" }, { contentNs: "jabber:client" }), "invalid-namespace");
  });

  it("version '2.0' -> unsupported-version", async () => {
    await rejected(streamHeader({ to: "a.example", from: "c.example", version: "2.0" }), "unsupported-version");
  });

  it("no version (pre-1.0 stream) -> unsupported-version", async () => {
    await rejected(streamHeader({ to: "a.example", from: "c.example", version: undefined }), "unsupported-version");
  });

  it("no 'to' -> improper-addressing", async () => {
    await rejected(streamHeader({ from: "c.example" }), "improper-addressing");
  });

  it("'to' not a local host -> host-unknown, and our header does not claim that host", async () => {
    const { root } = await rejected(streamHeader({ to: "elsewhere.example", from: "c.example" }), "host-unknown");
    assert.notEqual(root.attrs.from, "elsewhere.example");
  });

  it("malformed XML in the header -> not-well-formed", async () => {
    await rejected(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAM}' to='a.example' version='1.0' <<`, "not-well-formed");
  });

  it("garbage instead of a header -> not-well-formed", async () => {
    await rejected("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", "not-well-formed");
  });

  describe("a valid header", () => {
    it("gets a response header with its own id, from = the local host, version 1.0, and dialback in <stream:features>", async () => {
      const peer = await open();
      peer.write(streamHeader({ to: "b.example", from: "c.example" }));
      await peer.waitFor(/<\/stream:features>/);
      const { root, error } = parseStream(peer.text);
      assert.equal(error, undefined, peer.text);
      assert.ok(root);
      assert.equal(root.name, "stream");
      assert.equal(root.ns, NS_STREAM);
      assert.equal(root.attrs.from, "b.example");
      assert.equal(root.attrs.to, "c.example");
      assert.equal(root.attrs.version, "1.0");
      assert.match(root.attrs.id ?? "", /^\S{16,}$/);
      assert.equal(root.children.length, 1);
      const features = root.children[0]!;
      assert.equal(features.name, "features");
      assert.equal(features.ns, NS_STREAM);
      assert.ok(features.children.some((f) => f.name === "dialback" && f.ns === NS_DIALBACK_FEATURE), `no dialback feature in:\n${peer.text}`);
      assert.equal(peer.isClosed, false);
      // A clean close from the peer is answered with our closing tag and the connection ends.
      peer.write("</stream:stream>");
      await peer.closed();
      assert.equal(parseStream(peer.text).ended, true);
    });

    it("every stream gets a different id", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const peer = await open();
        peer.write(streamHeader({ to: "a.example", from: "c.example" }));
        await peer.waitFor(/<\/stream:features>/);
        ids.push(parseStream(peer.text).root!.attrs.id!);
        peer.destroy();
      }
      assert.equal(new Set(ids).size, 3, `ids repeat: ${ids.join(", ")}`);
    });

    it("a header split across many small writes is answered the same way", async () => {
      const peer = await open();
      const bytes = streamHeader({ to: "a.example", from: "c.example" });
      for (let i = 0; i < bytes.length; i += 7) peer.write(bytes.slice(i, i + 7));
      await peer.waitFor(/<\/stream:features>/);
      assert.equal(parseStream(peer.text).root!.attrs.from, "a.example");
    });
  });
});
