import "reflect-metadata";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { VirtualClock } from "../../core/clock/virtual-clock.js";
import { CLOSE_GRACE_MS, XmlStream, type XmlStreamOptions } from "../../core/stream/xml-stream.js";
import { NS } from "../../core/xml/element.js";
import { SaxesStreamParserFactory } from "../../plugins/saxes/saxes-stream-parser.js";
import { socketPair } from "../helpers/socket-pair.js";
import { waitFor } from "../helpers/wait.js";
import { Subject } from "rxjs";

/**
 * XmlStream's timers in virtual time over a real loopback connection: nothing here waits for a
 * timer; each step moves the clock and then awaits what the socket shows.
 */
describe("XmlStream timers in virtual time", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function open(options: Partial<XmlStreamOptions> = {}, pair: { allowHalfOpen?: boolean } = {}) {
    const clock = new VirtualClock();
    const sockets = await socketPair(pair);
    cleanups.push(sockets.close);
    const closed$ = new Subject<string>();
    let closedReason: string | undefined;
    const xml = new XmlStream(sockets.server, new SaxesStreamParserFactory(), {
      onHeader: () => {},
      onElement: () => {},
      onStreamEnd: () => xml.close("peer closed the stream"),
      onParseError: (condition, text) => xml.fail(condition, text),
      onClosed: (reason) => {
        closedReason = reason;
        closed$.next(reason);
      },
    }, { contentNs: NS.SERVER, limits: { maxStanzaSize: 10_000, maxDepth: 32 }, idleTimeoutMs: Infinity, clock, ...options });
    /** Resolves once the server side has read (and XmlStream handled) the peer's next bytes. */
    const peerWrites = async (text: string) => {
      const read = once(sockets.server, "data");
      sockets.peer.write(text);
      await read;
    };
    return { clock, xml, ...sockets, peerWrites, closed$, closedReason: () => closedReason };
  }

  it("idle timeout: connection-timeout exactly when nothing arrived for idleTimeoutMs", async () => {
    const { clock, xml, peer, text } = await open({ idleTimeoutMs: 1000 });
    clock.advance(999);
    assert.equal(xml.closed, false);
    clock.advance(1);
    assert.equal(xml.closed, true);
    await once(peer, "end");
    assert.match(text(), /<stream:error><connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text[^>]*>idle timeout<\/text><\/stream:error><\/stream:stream>$/);
  });

  it("a whitespace keepalive starts the idle timeout over (RFC 6120 §4.6.1)", async () => {
    const { clock, xml, peerWrites } = await open({ idleTimeoutMs: 1000 });
    await peerWrites("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' version='1.0'>");
    for (let i = 0; i < 5; i++) {
      clock.advance(900);
      await peerWrites(" ");
    }
    clock.advance(999);
    assert.equal(xml.closed, false, "4.5 s of virtual time, never 1 s without a byte");
    clock.advance(1);
    assert.equal(xml.closed, true);
  });

  it("close grace: a peer that never answers </stream:stream> loses the socket after CLOSE_GRACE_MS", async () => {
    const { clock, xml, server, peer, closed$ } = await open({}, { allowHalfOpen: true });
    xml.close("test");
    await once(peer, "end"); // our closing tag and FIN arrived; the peer keeps its side open
    clock.advance(CLOSE_GRACE_MS - 1);
    assert.equal(server.destroyed, false);
    const closed = waitFor(closed$, () => true);
    clock.advance(1);
    assert.equal(server.destroyed, true);
    assert.equal(await closed, "test");
  });

  it("close grace is cancelled when the peer closes in time", async () => {
    const { clock, xml, peer, closed$ } = await open({}, { allowHalfOpen: true });
    const closed = waitFor(closed$, () => true);
    xml.close("test");
    await once(peer, "end");
    peer.end("</stream:stream>");
    assert.equal(await closed, "test");
    assert.equal(clock.pending, 0, "no grace timer left behind");
  });

  it("shaper: reading stops for the delay the shaper asks, then resumes", async () => {
    const { clock, server, peerWrites } = await open({ shaper: { take: () => 500 } });
    await peerWrites("<?xml version='1.0'?>");
    assert.equal(server.isPaused(), true);
    clock.advance(499);
    assert.equal(server.isPaused(), true);
    clock.advance(1);
    assert.equal(server.isPaused(), false);
  });
});
