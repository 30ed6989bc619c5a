/**
 * XEP-0198 when the peer process dies: component -> A (this process) -> S2S -> B (a real
 * `xmpp-s2s start` process with echo) -> S2S -> A -> component. B is SIGKILLed in the middle of a
 * 10,000-stanza burst and restarted at once. A reconnects and asks to resume; the new B process
 * knows nothing of the old SM session and answers `<failed/>`, so every stanza A wrote and B never
 * acknowledged is bounced `remote-server-timeout` (wait), exactly once. Unlike the same fault without
 * SM (test/faults/peer-killed.test.ts), nothing is left "written, unacknowledged".
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S2sEvent } from "../../core/events/events.js";
import { ensureBuilt } from "../helpers/build.js";
import { freePort } from "../helpers/ports.js";
import { reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";
import { describeAccounts } from "../faults/accounting.js";
import { AccountedComponent } from "../faults/burst.js";
import type { RunningServer } from "../helpers/cli.js";
import { processConfig, signal, startServerProcess, stopServerProcess } from "../faults/server-process.js";
import { TcpProxy } from "../faults/tcp-proxy.js";

const A_IP = "127.0.33.21";
const B_IP = "127.0.33.22";
const PROXY_IP = "127.0.33.23";
const SECRET = "sm-secret";
const COUNT = 10_000;
const DEADLINE_MS = 120_000;

describe("XEP-0198: peer process SIGKILLed mid-burst, then restarted", () => {
  let dir: string;
  let a: TestNode;
  let b: RunningServer | undefined;
  let component: AccountedComponent;
  let bConfig: string;
  let toB: TcpProxy;
  const events: S2sEvent[] = [];

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-sm-"));
    const portsA = await reservePorts(A_IP);
    const bPort = await freePort(B_IP);
    bConfig = processConfig({ host: "b.example", ip: B_IP, s2sPort: bPort, address: ["a.example", "comp.a.example"].map((host) => ({ host, ip: A_IP, port: portsA.s2sPort })) });
    b = await startServerProcess(dir, "b", bConfig);
    // A reaches B through a relay, so the test can make sure A has written stanzas B never read.
    toB = await TcpProxy.start(PROXY_IP, { host: B_IP, port: bPort });
    a = await startNode({ hosts: ["a.example"], ip: A_IP, componentPassword: SECRET, s2s: { address: [{ host: "b.example", ip_address: PROXY_IP, port: toB.port }] } }, portsA);
    a.server.events$.subscribe((e) => events.push(e));
    component = await AccountedComponent.connect(A_IP, a.servicePort!, "comp.a.example", SECRET);
  });

  after(async () => {
    component?.close();
    await a?.stop();
    await stopServerProcess(b);
    await toB?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${COUNT.toLocaleString("en-US")} messages, B killed mid-burst: every unacknowledged one bounced once, none written-unacknowledged`, async (t) => {
    const accounting = component.accounting;
    let killing: Promise<RunningServer> | undefined;
    await component.burst("echo@b.example", COUNT, async (i) => {
      if (i !== COUNT * 0.3) return;
      const before = accounting.deliveredCount;
      await eventually(() => accounting.deliveredCount > before, DEADLINE_MS, "echoes from B before the kill");
      // What A writes no longer reaches B (the relay swallows it; B's acks still come back), then B
      // dies: A surely holds stanzas it wrote and B never read. The burst goes on meanwhile.
      toB.blackhole("toTarget");
      killing = (async () => {
        await eventually(() => toB.swallowed >= 16_384, DEADLINE_MS, "stanzas written that B never reads");
        signal(b!, "SIGKILL");
        await b!.exited;
        toB.cut();
        // Restarted at once on the same address; A finds it again on its next attempt.
        return startServerProcess(dir, "b", bConfig);
      })();
    });
    b = await killing!;
    await eventually(() => accounting.isSettled(`f${COUNT - 1}`) && accounting.settled >= COUNT, DEADLINE_MS, "every message echoed or bounced").catch((err: Error) => {
      throw new Error(`${err.message}; ${describeAccounts("so far", accounting.accounts(0))}`);
    });
    // No run of missing ids is forgiven.
    const accounts = accounting.accounts(0);
    const smBounced = events.reduce((n, e) => n + (e.type === "sm_resume_failed" ? e.bounced : 0), 0);
    t.diagnostic(describeAccounts(`SM on, SIGKILL peer mid-burst, ${COUNT} messages`, accounts));
    // A stanza B handled (its echo came back) whose <a/> died with B is bounced as unacknowledged:
    // the one outcome SM cannot rule out when the peer process dies (XEP-0198 §5: unacknowledged
    // stanzas may or may not have been received). Each such id is delivered once and bounced once.
    const both = accounting.deliveredThenBounced();
    t.diagnostic(`unacknowledged stanzas bounced after the failed resumption: ${smBounced}, of which handled by B before it died (ack lost with it): ${both.length}`);
    assert.ok(smBounced > 0, "A had written stanzas B never acknowledged, and bounced them");
    assert.ok((accounts.conditions["remote-server-timeout"] ?? 0) >= smBounced, "each bounced remote-server-timeout");
    assert.equal(accounts.delivered + accounts.bounced, accounts.sent, "every message delivered or bounced");
    assert.equal(accounts.writtenUnacknowledged, 0);
    assert.equal(accounts.silent, 0);
    assert.equal(accounts.duplicated, both.length, "no id delivered twice or bounced twice");
    for (const x of both) assert.equal(x.condition, "remote-server-timeout", `${x.id}: only an unacknowledged stanza may be delivered and bounced`);
    assert.ok(both.length <= smBounced);
    assert.equal(accounts.outOfOrder, 0);
    for (const condition of Object.keys(accounts.conditions)) assert.ok(["remote-server-not-found", "remote-server-timeout"].includes(condition), `bounced ${condition}`);
  });
});
