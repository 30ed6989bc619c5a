import "reflect-metadata";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import type { S2sListenerConfig } from "../../core/config/types.js";
import { VirtualClock } from "../../core/clock/virtual-clock.js";
import type { S2sEvent } from "../../core/events/events.js";
import { InboundS2sStream } from "../../core/session/inbound-stream.js";
import { socketPair } from "../helpers/socket-pair.js";
import { streamDeps } from "../helpers/stream-deps.js";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'>";

/** The inbound stream's two deadlines (idle, negotiation) in virtual time, over a real loopback connection. */
describe("inbound stream deadlines in virtual time", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function open(idleTimeoutMs: number, negotiationTimeoutMs: number) {
    const clock = new VirtualClock();
    const deps = streamDeps(clock);
    const errors: Array<Extract<S2sEvent, { type: "inbound_stream_error" }>> = [];
    deps.events.events$.subscribe((e) => e.type === "inbound_stream_error" && errors.push(e));
    const sockets = await socketPair();
    cleanups.push(sockets.close);
    const listener = { maxStanzaSize: 10_000, idleTimeoutMs, negotiationTimeoutMs } as S2sListenerConfig;
    const stream = new InboundS2sStream(sockets.server, listener, deps, () => {});
    /** The peer writes; resolves once the stream has read it. */
    const peerWrites = async (text: string) => {
      const read = once(sockets.server, "data");
      sockets.peer.write(text);
      await read;
    };
    await peerWrites(HEADER);
    return { clock, stream, errors, peerWrites, ...sockets };
  }

  it("closes a silent stream on the idle timeout, before the negotiation deadline", async () => {
    const { clock, server, peer, text } = await open(1000, 5000);
    clock.advance(999);
    assert.equal(server.writableEnded, false);
    clock.advance(1);
    // The stream error and our FIN are written synchronously by the timer.
    assert.equal(server.writableEnded, true);
    await once(peer, "end");
    assert.match(text(), /<connection-timeout [^>]*\/><text[^>]*>idle timeout</);
  });

  it("keepalives hold the idle timeout off but not the negotiation deadline", async () => {
    const { clock, errors, peerWrites, server, peer, text } = await open(1000, 5000);
    // 4.95 s of whitespace keepalives every 900 ms (RFC 6120 §4.6.1): the idle timer never fires...
    for (let t = 900; t < 5000; t += 900) {
      clock.advance(900);
      await peerWrites(" ");
    }
    clock.advance(5000 - 4500 - 1);
    assert.equal(server.writableEnded, false);
    assert.equal(errors.length, 0);
    // ...the negotiation deadline does, counted from the connection, not from the last byte.
    clock.advance(1);
    assert.deepEqual(errors.map((e) => [e.condition, e.text]), [["connection-timeout", "stream negotiation took too long"]]);
    await once(peer, "end");
    assert.match(text(), /<connection-timeout [^>]*\/><text[^>]*>stream negotiation took too long</);
  });

  it("an authenticated stream outlives the negotiation deadline", async () => {
    const { clock, stream, errors, server } = await open(Infinity, 5000);
    assert.equal(await stream.authenticate({ remote: "a.example", local: "b.example", method: "test" }, () => true), "authenticated");
    clock.advance(60_000);
    assert.equal(errors.length, 0);
    assert.equal(server.writableEnded, false);
    assert.equal(clock.pending, 0, "the negotiation timer is cancelled, not left to fire");
  });
});
