/**
 * Fault "the peer process is killed (SIGKILL) in the middle of a 10,000-stanza burst,
 * then restarted": component -> A (in this process) -> S2S -> B (a real `xmpp-s2s start` process
 * with echo) -> S2S -> A -> component. What A still queued is delivered after the reconnection or
 * bounced; what was written into the dead connection and never acknowledged (XEP-0198, on by
 * default) is bounced `remote-server-timeout` once the new B cannot resume it: nothing is left
 * "written, unacknowledged".
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.js";
import { freePort } from "../helpers/ports.js";
import { reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";
import { describeAccounts } from "./accounting.js";
import { AccountedComponent } from "./burst.js";
import type { RunningServer } from "../helpers/cli.js";
import { processConfig, signal, startServerProcess, stopServerProcess } from "./server-process.js";

const A_IP = "127.0.31.21";
const B_IP = "127.0.31.22";
const SECRET = "fault-secret";
const COUNT = 10_000;
const DEADLINE_MS = 120_000;

describe("faults: peer process SIGKILLed mid-burst, then restarted", () => {
  let dir: string;
  let a: TestNode;
  let b: RunningServer | undefined;
  let component: AccountedComponent;
  let bConfig: string;

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-faults-"));
    const portsA = await reservePorts(A_IP);
    const bPort = await freePort(B_IP);
    bConfig = processConfig({ host: "b.example", ip: B_IP, s2sPort: bPort, address: ["a.example", "comp.a.example"].map((host) => ({ host, ip: A_IP, port: portsA.s2sPort })) });
    b = await startServerProcess(dir, "b", bConfig);
    // Stanzas arriving while A waits to retry are held (hold_window) until it reconnects: long
    // enough for any load here, with a retry every 2 s at most.
    a = await startNode({ hosts: ["a.example"], ip: A_IP, componentPassword: SECRET, s2s: { address: [{ host: "b.example", ip_address: B_IP, port: bPort }], max_retry_delay: 2 }, plugins: { tcp: { hold_window: 600 } } }, portsA);
    component = await AccountedComponent.connect(A_IP, a.servicePort!, "comp.a.example", SECRET);
  });

  after(async () => {
    component?.close();
    await a?.stop();
    await stopServerProcess(b);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${COUNT.toLocaleString("en-US")} messages, B killed after ${(COUNT * 0.3).toLocaleString("en-US")}: delivered + bounced = sent, nothing written-unacknowledged`, async (t) => {
    const accounting = component.accounting;
    let killedAt = 0;
    await component.burst("echo@b.example", COUNT, async (i) => {
      if (i !== COUNT * 0.3) return;
      const before = accounting.deliveredCount;
      await eventually(() => accounting.deliveredCount > before, DEADLINE_MS, "echoes from B before the kill");
      killedAt = accounting.deliveredCount;
      signal(b!, "SIGKILL");
      await b!.exited;
      // Restarted at once on the same address, and the burst goes on only once B is back: what
      // A queued when B died is bounced or was written into the dead link; the rest of the burst
      // must reach the new B (held while A waits to retry) however long the restart took here.
      b = await startServerProcess(dir, "b", bConfig);
    });
    // Every message, not only the last: stanzas written into the dead link are bounced when A's
    // resumption fails, which may come after later messages crossed the new link.
    await eventually(() => accounting.isSettled(`f${COUNT - 1}`) && accounting.settled >= COUNT, DEADLINE_MS, "every message echoed or bounced").catch((err: Error) => {
      throw new Error(`${err.message}; ${describeAccounts("so far", accounting.accounts(0))}`);
    });
    // No run of missing ids is forgiven: with stream management nothing is written, unacknowledged.
    const accounts = accounting.accounts(0);
    // A stanza B handled whose ack died with it is bounced as unacknowledged too (XEP-0198 §5: its
    // fate is unknown to A): delivered once and bounced once, the only duplicate allowed.
    const both = accounting.deliveredThenBounced();
    t.diagnostic(describeAccounts(`SIGKILL peer mid-burst, ${COUNT} messages`, accounts));
    t.diagnostic(`echoes before the kill ${killedAt}; runs of missing ids: ${accounts.missingRuns.map((n, i) => `${n} from f${accounts.missingFrom[i]}`).join(", ") || "none"}`);
    assert.equal(accounts.delivered + accounts.bounced, accounts.sent);
    assert.equal(accounts.writtenUnacknowledged, 0);
    assert.equal(accounts.duplicated, both.length);
    for (const x of both) assert.equal(x.condition, "remote-server-timeout", `${x.id}: only an unacknowledged stanza may be delivered and bounced`);
    assert.equal(accounts.silent, 0);
    assert.equal(accounts.outOfOrder, 0);
    assert.ok(accounts.delivered > killedAt, "messages were delivered after B came back");
    for (const condition of Object.keys(accounts.conditions)) assert.ok(["remote-server-not-found", "remote-server-timeout"].includes(condition), `bounced ${condition}`);
  });
});
