/**
 * Issue 11, fault "TCP connection cut under a working stream while both processes live on":
 * component -> A -> S2S -> B (echo) -> S2S -> A -> component, both S2S directions through a TCP
 * relay on loopback that the test resets twice mid-burst (the real-socket equivalent of `ss -K`,
 * chosen because it needs no root or namespace). A must reconnect at once and deliver what it
 * queued, pause the component (flow control) rather than bounce `resource-constraint`, keep order,
 * and lose nothing: XEP-0198 (on by default) resumes each link and resends what its peer had not
 * handled, so nothing is left "written, unacknowledged" (test/sm/ cuts a link that surely holds some).
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../helpers/wait.js";
import { describeAccounts } from "./accounting.js";
import { startRelayedPair, type RelayedPair } from "./relayed-pair.js";

const A_IP = "127.0.31.1";
const B_IP = "127.0.31.2";
const PROXY_IP = "127.0.31.3";
const SECRET = "fault-secret";
const COUNT = 60_000;
/** Generous: a loaded 2-core machine moves a few thousand stanzas per second through both servers. */
const DEADLINE_MS = 120_000;

describe("faults: TCP cut under a working stream (relay on loopback)", () => {
  let pair: RelayedPair;

  before(async () => {
    pair = await startRelayedPair({ a: A_IP, b: B_IP, proxy: PROXY_IP }, SECRET);
  });

  after(async () => {
    await pair?.stop();
  });

  it(`cut twice during ${COUNT.toLocaleString("en-US")} echoed messages: reconnects, delivers in order, nothing bounced as unreachable`, async (t) => {
    const { a, b, toA, toB, component } = pair;
    const accounting = component.accounting;
    // An echo B could not send back is bounced on B to echo@b.example, which we count here.
    const echoBounces = b.server.events$.subscribe((e) => {
      if (e.type === "stanza_bounced" && e.from.startsWith("echo@b.example") && e.id) accounting.bounced(e.id, e.condition);
    });
    const retries: number[] = [];
    // Pairs established since the last cut, per side: a cut hits working links, not a reconnection.
    const established = { A: 0, B: 0 };
    const retrySub = a.server.events$.subscribe((e) => {
      if (e.type === "retry_scheduled") retries.push(e.delayMs);
      if (e.type === "established") established.A++;
    });
    const bEstablished = b.server.events$.subscribe((e) => {
      if (e.type === "retry_scheduled") retries.push(e.delayMs);
      if (e.type === "established") established.B++;
    });
    let cuts = 0;
    let cutSockets = 0;
    /** Messages sent when the last cut happened: the next cut waits for one sent after it to come back. */
    let sentAtCut = -1;
    // Phases of a sixth: a cut is armed at 1/6 and 3/6 and happens as soon as the links work, while
    // the burst goes on; the burst waits for it at 2/6 and 4/6. So each cut hits working links
    // under load, messages are sent after each cut, and the last third proves the links came back
    // and the order held (a cut may lose everything in flight: megabytes sit in loopback buffers).
    const armAt = new Set([COUNT / 6, COUNT / 2]);
    const barrierAt = new Set([COUNT / 3, (COUNT * 2) / 3]);
    try {
      let cutting = Promise.resolve();
      await component.burst("echo@b.example", COUNT, async (i) => {
        if (barrierAt.has(i)) await cutting;
        if (!armAt.has(i)) return;
        cutting = (async () => {
          const since = sentAtCut;
          await eventually(() => accounting.lastDeliveredIndex > since && established.A > 0 && established.B > 0, DEADLINE_MS, "echoes over working links");
          sentAtCut = accounting.sentCount - 1;
          cuts++;
          established.A = established.B = 0;
          cutSockets += toA.cut() + toB.cut();
        })();
      });
      // Order is kept, so once the last message is answered everything before it is settled or lost.
      await eventually(() => accounting.isSettled(`f${COUNT - 1}`), DEADLINE_MS, "the last message's echo or bounce").catch((err: Error) => {
        throw new Error(`${err.message}; ${describeAccounts("so far", accounting.accounts(0))}; cuts ${cuts}, relayed ${toB.accepted}/${toA.accepted}`);
      });
    } finally {
      echoBounces.unsubscribe();
      retrySub.unsubscribe();
      bEstablished.unsubscribe();
    }
    // No run of missing ids is forgiven: with stream management nothing is written, unacknowledged.
    const accounts = accounting.accounts(0);
    t.diagnostic(describeAccounts(`cut twice, ${COUNT} messages`, accounts));
    t.diagnostic(`runs of missing ids: ${accounts.missingRuns.map((n, i) => `${n} from f${accounts.missingFrom[i]}`).join(", ") || "none"}`);
    t.diagnostic(`cuts ${cuts} (${cutSockets} connections reset), connections relayed A->B ${toB.accepted}, B->A ${toA.accepted}, retries scheduled ${retries.length}`);
    assert.equal(cuts, 2, "both cuts happened mid-burst");
    assert.ok(toB.accepted >= 3 && toA.accepted >= 3, "each direction reconnected after each cut");
    assert.equal(accounts.delivered + accounts.bounced, accounts.sent);
    assert.equal(accounts.writtenUnacknowledged, 0);
    assert.equal(accounts.duplicated, 0);
    assert.equal(accounts.silent, 0);
    assert.equal(accounts.outOfOrder, 0, "echoes arrive in the order sent");
    // The peer was up all along: nothing is bounced as unreachable, nothing for a full queue.
    assert.deepEqual(accounts.conditions, {}, `bounces: ${JSON.stringify(accounts.conditions)}`);
    assert.equal(retries.length, 0, "a link that broke after working reconnects at once, without backoff");
  });
});
