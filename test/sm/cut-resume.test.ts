/**
 * XEP-0198 resumption under a cut link: component -> A -> S2S -> B (echo) -> S2S -> A -> component,
 * both S2S directions through a TCP relay on loopback (test/faults/tcp-proxy.ts). In the middle of
 * a 10,000-stanza burst the relay resets every connection under the working streams while both
 * servers live on. With SM (on by default) both sides resume on the reconnected streams and resend
 * exactly what the peer's `h` leaves: every stanza is delivered exactly once, in order; nothing is
 * bounced, nothing is "written, unacknowledged".
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { S2sEvent } from "../../core/events/events.js";
import { eventually } from "../helpers/wait.js";
import { describeAccounts } from "../faults/accounting.js";
import { startRelayedPair, type RelayedPair } from "../faults/relayed-pair.js";

const A_IP = "127.0.33.1";
const B_IP = "127.0.33.2";
const PROXY_IP = "127.0.33.3";
const SECRET = "sm-secret";
const COUNT = 10_000;
const DEADLINE_MS = 120_000;

describe("XEP-0198: TCP link cut mid-burst, both servers alive", () => {
  let pair: RelayedPair;
  const events: Array<{ side: "A" | "B"; e: S2sEvent }> = [];

  before(async () => {
    pair = await startRelayedPair({ a: A_IP, b: B_IP, proxy: PROXY_IP }, SECRET);
    pair.a.server.events$.subscribe((e) => events.push({ side: "A", e }));
    pair.b.server.events$.subscribe((e) => events.push({ side: "B", e }));
  });

  after(async () => {
    await pair?.stop();
  });

  it(`${COUNT.toLocaleString("en-US")} echoed messages, every connection reset mid-burst: each delivered exactly once, in order`, async (t) => {
    const { b, toA, toB, component } = pair;
    const accounting = component.accounting;
    const echoBounces = b.server.events$.subscribe((e) => {
      if (e.type === "stanza_bounced" && e.from.startsWith("echo@b.example") && e.id) accounting.bounced(e.id, e.condition);
    });
    let cutSockets = 0;
    try {
      let cut = false;
      await component.burst("echo@b.example", COUNT, async (i) => {
        if (i !== COUNT / 4) return;
        // Links working (an echo came back), then they die silently: both relays swallow what they
        // read, so A surely writes stanzas B never reads and no ack comes back. Once A has written
        // at least 16 KiB into the dead link, every connection is reset; the burst goes on meanwhile.
        await eventually(() => accounting.deliveredCount > 0, DEADLINE_MS, "echoes over the working links");
        toA.blackhole();
        toB.blackhole();
        void eventually(() => toB.swallowed >= 16_384, DEADLINE_MS, "stanzas written into the dead link").then(() => {
          cutSockets = toA.cut() + toB.cut();
          cut = true;
        });
      });
      await eventually(() => cut, DEADLINE_MS, "the cut");
      await eventually(() => accounting.isSettled(`f${COUNT - 1}`) && accounting.settled >= COUNT, DEADLINE_MS, "every message echoed or bounced").catch((err: Error) => {
        throw new Error(`${err.message}; ${describeAccounts("so far", accounting.accounts(0))}`);
      });
    } finally {
      echoBounces.unsubscribe();
    }
    // No run of missing ids is forgiven: with SM nothing may be "written, unacknowledged".
    const accounts = accounting.accounts(0);
    const resumed = events.filter((x) => x.e.type === "sm_resumed");
    t.diagnostic(describeAccounts(`SM on, link cut once, ${COUNT} messages`, accounts));
    t.diagnostic(`connections reset ${cutSockets}; resumptions ${resumed.map((x) => `${x.side} ${x.e.type === "sm_resumed" ? `${x.e.direction} h=${x.e.h}${x.e.resent === undefined ? "" : ` resent=${x.e.resent}`}` : ""}`).join(", ")}`);
    assert.ok(cutSockets >= 2, "live connections were reset");
    assert.ok(toB.accepted >= 2 && toA.accepted >= 2, "both directions reconnected");
    // A's outbound had stanzas written into the frozen link: resumed, with what B's h left resent.
    // (B's outbound is resumed too when echoes were in flight; with everything acknowledged an
    // outbound stream simply enables SM afresh.)
    assert.ok(resumed.some((x) => x.side === "A" && x.e.type === "sm_resumed" && x.e.direction === "outbound" && (x.e.resent ?? 0) > 0), "A resumed its outbound stream and resent what B had not handled");
    assert.ok(resumed.some((x) => x.side === "B" && x.e.type === "sm_resumed" && x.e.direction === "inbound"), "B accepted the resumption");
    assert.ok(resumed.some((x) => x.e.type === "sm_resumed" && x.e.direction === "inbound"), "a resumption was accepted");
    assert.equal(events.filter((x) => x.e.type === "sm_resume_failed").length, 0);
    assert.equal(accounts.delivered, COUNT, "every message delivered");
    assert.equal(accounts.bounced, 0, `bounces: ${JSON.stringify(accounts.conditions)}`);
    assert.equal(accounts.duplicated, 0);
    assert.equal(accounts.writtenUnacknowledged, 0);
    assert.equal(accounts.silent, 0);
    assert.equal(accounts.outOfOrder, 0);
  });
});
