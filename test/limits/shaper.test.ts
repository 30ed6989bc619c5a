import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { S2sServer } from "../../core/server/server.js";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { freePort } from "../helpers/ports.js";
import { eventually } from "../helpers/wait.js";
import { connectFrom, startLogged, type Conn } from "./helpers.js";

const RATE = 20_000; // bytes per second
const VERIFIES = 40;
const PADDING = 4_000; // whitespace between elements (allowed between top-level elements)
/** Node reads at most 64 KiB per read from a socket: the last read may bring that much at once. */
const MAX_READ = 65_536;
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='b.example' version='1.0'>";

// Issue 11: [shaper.NAME] max_rate with listen.s2s.shaper pauses reading (token bucket) and never drops.
describe("listen.s2s.shaper", () => {
  const ip = "127.0.0.81";
  let server: S2sServer | undefined;
  let conn: Conn | undefined;
  after(async () => {
    conn?.socket.destroy();
    await server?.stop();
  });

  it("a peer writing faster than max_rate is read no faster than the token bucket allows, and every element is answered", async () => {
    const port = await freePort(ip);
    const secret = "shaper-secret";
    ({ server } = await startLogged({
      general: { hosts: ["b.example"] },
      listen: { s2s: [{ port, ip_address: ip, shaper: "slow" }] },
      shaper: { slow: { max_rate: RATE } },
      s2s: { shared: secret },
    }));
    conn = await connectFrom("127.0.0.82", ip, port);
    conn.socket.write(HEADER);
    await eventually(() => conn!.text.includes("</stream:features>"), undefined, "features");
    // db:verify is answered before authentication (XEP-0220 §2.2.2, authoritative role): one
    // answer per request shows that nothing was dropped.
    const keys = new Xep0185Keys(secret);
    let payload = "";
    for (let i = 0; i < VERIFIES; i++) {
      payload += `<db:verify from='r.example' to='b.example' id='id${i}'>${keys.generate("r.example", "b.example", `id${i}`)}</db:verify>` + " ".repeat(PADDING);
    }
    const bytes = Buffer.byteLength(payload);
    const started = performance.now();
    conn.socket.write(payload);
    await eventually(() => (conn!.text.match(/type='valid'/g) ?? []).length === VERIFIES, 60_000, `${VERIFIES} answers`);
    const elapsedMs = performance.now() - started;
    // A bucket of RATE tokens (one second of burst) refilled at RATE/s: before the last read the
    // reader had consumed at least bytes - MAX_READ, of which RATE came from the initial bucket.
    const lowerBoundMs = ((bytes - MAX_READ - RATE) / RATE) * 1000;
    assert.ok(lowerBoundMs > 2000, `the test is meaningful (${lowerBoundMs} ms)`);
    assert.ok(elapsedMs >= lowerBoundMs, `${bytes} bytes at ${RATE} B/s took ${Math.round(elapsedMs)} ms, at least ${Math.round(lowerBoundMs)} expected`);
    assert.equal(conn.socket.destroyed, false);
    for (let i = 0; i < VERIFIES; i++) assert.ok(conn.text.includes(`id='id${i}' type='valid'`), `answer ${i}`);
  });
});
