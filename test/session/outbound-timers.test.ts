import "reflect-metadata";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { setImmediate as turn } from "node:timers/promises";
import type { Socket } from "node:net";
import type { Authenticator, OutboundAuthResult } from "../../core/auth/authenticator.js";
import { VirtualClock } from "../../core/clock/virtual-clock.js";
import type { Connection } from "../../core/connector/connector.js";
import { ERROR_CODES, type S2sError } from "../../core/errors.js";
import { OutboundS2sStream } from "../../core/session/outbound-stream.js";
import { OutboundSession } from "../../core/session/outbound-session.js";
import { el, NS } from "../../core/xml/element.js";
import { socketPair } from "../helpers/socket-pair.js";
import { streamDeps } from "../helpers/stream-deps.js";
import { DEADLINE_MS, waitFor } from "../helpers/wait.js";

const TIMEOUT = { code: ERROR_CODES.TIMEOUT, condition: "remote-server-timeout" };

/** Settled or not, seen after the promise callbacks of this turn have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await turn();
  return done;
}

/** `promise`, or a rejection naming `what` after the tests' generous real-time deadline (so a broken timer fails, not hangs). */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting for ${what} after ${DEADLINE_MS} ms`)), DEADLINE_MS).unref())]);
}

/** A peer that answers our stream header with its own and empty features (no STARTTLS on offer). */
function answerHeaders(peer: Socket): void {
  peer.on("data", (chunk: Buffer | string) => {
    if (String(chunk).includes("<stream:stream")) peer.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='s1' from='b.example' to='a.example' version='1.0'><stream:features/>");
  });
}

/** An authenticator that says "authenticated" at once, or never answers (`hang`). */
function authenticator(mode: "ok" | "hang", called: () => void): Authenticator {
  return {
    name: "test",
    inboundFeatures: () => [],
    handleInbound: () => false,
    authenticateOutbound: () => {
      called();
      return mode === "ok" ? Promise.resolve<OutboundAuthResult>({ outcome: "authenticated" }) : new Promise<OutboundAuthResult>(() => {});
    },
  };
}

describe("outbound stream and session deadlines in virtual time", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function pair() {
    const sockets = await socketPair();
    cleanups.push(sockets.close);
    const connection: Connection = { socket: sockets.server, target: { host: "127.0.0.1", port: sockets.server.localPort!, directTls: false } };
    return { ...sockets, connection };
  }

  it("next() rejects remote-server-timeout after its timeout, not before", async () => {
    const clock = new VirtualClock();
    const { connection } = await pair();
    const stream = new OutboundS2sStream(connection, "a.example", "b.example", streamDeps(clock), () => {}, () => {});
    const answer = stream.next((e) => e.name === "result", 1000);
    clock.advance(999);
    assert.equal(await settled(answer), false);
    clock.advance(1);
    await assert.rejects(within(answer, "next() to time out"), { ...TIMEOUT, message: "no answer from b.example within 1000 ms" });
    stream.destroy("test over");
  });

  it("negotiate() gives up on a peer that never sends its header", async () => {
    const clock = new VirtualClock();
    const { connection, peer } = await pair();
    const stream = new OutboundS2sStream(connection, "a.example", "b.example", streamDeps(clock), () => {}, () => {});
    const header = once(peer, "data"); // our header reached the peer, which stays silent
    const negotiation = stream.negotiate(3000);
    await header;
    clock.advance(2999);
    assert.equal(await settled(negotiation), false);
    clock.advance(1);
    await assert.rejects(within(negotiation, "negotiate() to time out"), { ...TIMEOUT, message: "no stream header from b.example within 3000 ms" });
    stream.destroy("test over");
  });

  async function session(mode: "ok" | "hang", settings: { negotiationTimeoutMs?: number; idleTimeoutMs?: number }) {
    const clock = new VirtualClock();
    const { connection, peer, server } = await pair();
    answerHeaders(peer);
    let markCalled!: () => void;
    const authCalled = new Promise<void>((r) => (markCalled = r));
    const deps = streamDeps(clock, {
      settings,
      authenticators: [authenticator(mode, markCalled)],
      resolver: { resolve: async () => [connection.target] },
      connector: { connect: async () => connection },
    });
    const failures: unknown[] = [];
    let markEstablished!: () => void;
    const established = new Promise<void>((r) => (markEstablished = r));
    const s = new OutboundSession("a.example", "b.example", deps, { onAttemptFailed: (_, err) => failures.push(err), onEstablished: () => markEstablished(), onIdle: () => {} });
    return { clock, deps, session: s, authCalled, established, failures, peer, server };
  }

  it("the whole negotiation has one deadline: an authenticator that never answers fails the attempt", async () => {
    const { clock, session: s, authCalled, failures, server } = await session("hang", { negotiationTimeoutMs: 4000 });
    const attempt = s.connect();
    await authCalled; // header and features came in time; only the overall deadline is left
    clock.advance(3999);
    assert.equal(await settled(attempt), false);
    clock.advance(1);
    await within(attempt, "the attempt to end");
    assert.equal(failures.length, 1);
    const err = failures[0] as S2sError;
    assert.deepEqual([err.code, err.condition, err.message], [TIMEOUT.code, TIMEOUT.condition, "stream to b.example not usable within 4000 ms"]);
    assert.equal(server.destroyed, true, "the stream is dropped, not left open");
    assert.equal(s.state, "idle");
  });

  it("idle close: an established stream with nothing sent for idle_timeout is closed; sending starts it over", async () => {
    const { clock, deps, session: s, established, server } = await session("ok", { idleTimeoutMs: 10_000 });
    void s.connect();
    await established;
    clock.advance(9000);
    s.send(el("message", { from: "u@a.example", to: "v@b.example", id: "m1" }, NS.SERVER));
    clock.advance(9999);
    assert.equal(server.writableEnded, false, "9.999 s since the last stanza");
    const closed = waitFor(deps.events.events$, (e) => e.type === "closed" && e.remote === "b.example");
    clock.advance(1);
    assert.equal(server.writableEnded, true, "</stream:stream> and FIN written at 10 s");
    assert.deepEqual(await closed, { type: "closed", local: "a.example", remote: "b.example", reason: "idle" });
    assert.equal(s.state, "idle");
  });
});
