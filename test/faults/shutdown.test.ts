/**
 * Issue 11, fault "SIGTERM during a burst": a real `xmpp-s2s start` process A with a component
 * bursting 10,000 messages to a peer that accepted TCP and stalls (so A holds a full queue), then
 * SIGTERM: every stanza A had taken is bounced to the component, and A exits 0 within 10 s. What
 * the component wrote that A never read (A had paused reading it: flow control) is
 * written-unacknowledged, one run at the end of the burst.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.js";
import { freePort } from "../helpers/ports.js";
import { eventually } from "../helpers/wait.js";
import { describeAccounts } from "./accounting.js";
import { AccountedComponent } from "./burst.js";
import type { RunningServer } from "../helpers/cli.js";
import { processConfig, signal, startServerProcess, stopServerProcess } from "./server-process.js";
import { StallingPeer } from "./stalling-peer.js";

const A_IP = "127.0.31.31";
const PEER_IP = "127.0.31.32";
const SECRET = "fault-secret";
const COUNT = 10_000;
const EXIT_WITHIN_MS = 10_000;

describe("faults: SIGTERM during a burst", () => {
  let dir: string;
  let a: RunningServer;
  let peer: StallingPeer;
  let component: AccountedComponent;

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-faults-"));
    peer = await StallingPeer.start(PEER_IP, "header");
    const servicePort = await freePort(A_IP);
    a = await startServerProcess(dir, "a", processConfig({ host: "a.example", ip: A_IP, s2sPort: await freePort(A_IP), servicePort, secret: SECRET, address: [{ host: "b.example", ip: PEER_IP, port: peer.port }] }));
    component = await AccountedComponent.connect(A_IP, servicePort, "comp.a.example", SECRET);
  });

  after(async () => {
    component?.close();
    await stopServerProcess(a);
    await peer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`bounces every queued stanza and exits 0 within ${EXIT_WITHIN_MS / 1000} s`, async (t) => {
    const accounting = component.accounting;
    // The burst stalls once A pauses us (its queue for b.example is half full): send in the background.
    const burst = component.burst("echo@b.example", COUNT);
    await eventually(() => peer.accepts.length > 0, undefined, "A connected to the stalling peer");
    const started = performance.now();
    signal(a, "SIGTERM");
    const exit = await Promise.race([a.exited, new Promise<"late">((r) => setTimeout(() => r("late"), EXIT_WITHIN_MS).unref())]);
    const exitMs = performance.now() - started;
    assert.notEqual(exit, "late", `A did not exit within ${EXIT_WITHIN_MS} ms:\n${a.stdout.slice(-2000)}`);
    assert.deepEqual(exit, { code: 0, signal: null });
    await burst;
    // Everything A read before it went is answered before its component stream closes.
    await eventually(() => component.raw.closed, undefined, "A closed the component stream");
    const accounts = accounting.accounts(1);
    t.diagnostic(describeAccounts(`SIGTERM during a ${COUNT}-message burst`, accounts));
    t.diagnostic(`exit 0 after ${exitMs.toFixed(0)} ms; runs of missing ids: ${accounts.missingRuns.map((n, i) => `${n} from f${accounts.missingFrom[i]}`).join(", ") || "none"}`);
    assert.ok(accounts.bounced > 0, "A had stanzas queued");
    assert.equal(accounts.delivered + accounts.bounced + accounts.writtenUnacknowledged, accounts.sent);
    assert.equal(accounts.duplicated, 0);
    assert.equal(accounts.silent, 0);
    assert.deepEqual(Object.keys(accounts.conditions), ["remote-server-not-found"]);
    // The unacknowledged run is the tail A never read, not a hole in what it had taken.
    if (accounts.missingRuns.length > 0) assert.ok(!accounting.isSettled(`f${COUNT - 1}`), "the missing run is the end of the burst");
  });
});
