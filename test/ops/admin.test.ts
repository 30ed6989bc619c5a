/**
 * Issue 12, admin API and CLI: two servers federate over STARTTLS with certificates from a CA
 * both trust; `xmpp-s2s sessions --json --config FILE` lists the session with its authentication
 * method and TLS details; `close` closes it and the next stanza establishes a new one; `retry`
 * clears a backoff and connects at once; each verb fails clearly when no server runs.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { statSync, writeFileSync } from "node:fs";
import { AdminServer } from "../../core/admin/admin-server.js";
import { createLogger } from "../../core/logging/logger.js";
import { join } from "node:path";
import type { SessionRow } from "../../core/admin/inspect.js";
import type { S2sEvent } from "../../core/events/events.js";
import { el, type XmlElement } from "../../core/xml/element.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir } from "../helpers/certs.js";
import { freePort } from "../helpers/ports.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { ensureBuilt } from "../helpers/build.js";
import { killChildren, run as xmppS2s } from "../helpers/cli.js";
import { addressLine, opsToml, reserve, startOpsNode, type OpsNode } from "./world.js";

describe("admin API and CLI verbs", () => {
  let certDir: string;
  let a: OpsNode;
  let b: OpsNode;
  const received: XmlElement[] = [];
  const eventsA: S2sEvent[] = [];
  let deadPort: number;
  let sent = 0;

  /** One message A -> echo@B, resolved when its echo is back at A. */
  async function roundTrip(): Promise<void> {
    const id = `m${sent++}`;
    a.server.send(el("message", { from: "alice@a.example/r", to: "echo@b.example", type: "chat", id }, "jabber:server", el("body", {}, "jabber:server", id)));
    await eventually(() => received.some((s) => s.attr("id") === id && s.attr("from") === "echo@b.example"), undefined, `echo of ${id}`);
  }

  const sessionsOf = async (node: OpsNode): Promise<SessionRow[]> => {
    const r = await xmppS2s(["sessions", "--json", "--config", node.configFile]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as SessionRow[];
  };

  before(async () => {
    ensureBuilt();
    certDir = makeCertDir();
    const ca = makeCa(certDir, "Ops CA");
    const ra = await reserve("127.0.0.131");
    const rb = await reserve("127.0.0.132");
    deadPort = await freePort("127.0.0.133");
    const tls = (domain: string) => [`use_starttls = "optional"`, `certfile = "${makeLeaf(ca, { domains: [domain] }).certfile}"`, `cacertfile = "${ca.cafile}"`];
    // Without XEP-0288: these tests read one row per direction, each on its own stream.
    b = await startOpsNode({ host: "b.example", ip: rb.ip, admin: true, s2s: [...tls("b.example"), `address = [${addressLine("a.example", ra)}]`], extra: `[plugins.tcp]\nbidi = false\n` }, rb);
    a = await startOpsNode(
      {
        host: "a.example",
        ip: ra.ip,
        admin: true,
        // c.example: an address where nothing listens, for the backoff.
        s2s: [...tls("a.example"), `address = [${addressLine("b.example", rb)}, ${addressLine("c.example", { ip: "127.0.0.133", s2sPort: deadPort })}]`],
        // A first retry far away, so the backoff is still there when the CLI looks.
        extra: `[plugins.tcp]\ninitial_retry_delay = 600\nbidi = false\n`,
      },
      ra,
    );
    a.server.stanzas$.subscribe((s) => received.push(s));
    a.server.events$.subscribe((e) => eventsA.push(e));
  });

  after(async () => {
    killChildren();
    await a?.stop();
    await b?.stop();
    if (certDir) removeCertDir(certDir);
  });

  it("sessions --json lists both directions with the auth method and TLS details", async () => {
    await roundTrip();
    const method = eventsA.find((e): e is Extract<S2sEvent, { type: "authenticated" }> => e.type === "authenticated" && e.direction === "outbound")!.method;
    const rows = await sessionsOf(a);
    const out = rows.find((r) => r.direction === "outbound" && r.remote === "b.example");
    assert.ok(out, JSON.stringify(rows));
    assert.equal(out.local, "a.example");
    assert.equal(out.state, "established");
    assert.equal(out.auth, method);
    assert.match(out.tls?.version ?? "", /^TLSv1\.[23]$/);
    assert.ok(out.tls?.cipher, "a cipher name");
    assert.equal(out.tls?.certificate.verified, true, out.tls?.certificate.reason ?? "");
    assert.match(out.tls?.certificate.subject ?? "", /CN=b\.example/);
    assert.equal(out.stanzasOut, 1);
    assert.equal(out.queued, 0);
    assert.deepEqual(out.backoff, { waiting: false, attempt: 0, retryInSeconds: null });
    assert.ok(out.ageSeconds !== null && out.ageSeconds >= 0);
    const inbound = rows.find((r) => r.direction === "inbound" && r.remote === "b.example");
    assert.ok(inbound, "B's stream carrying the echo");
    assert.equal(inbound.state, "established");
    assert.ok(inbound.auth);
    assert.equal(inbound.stanzasIn, 1);
    assert.match(inbound.tls?.version ?? "", /^TLSv1\.[23]$/);

    const table = await xmppS2s(["sessions", "--config", a.configFile]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^DIR\s+LOCAL\s+REMOTE\s+STATE\s+AUTH/m);
    assert.match(table.stdout, /^out\s+a\.example\s+b\.example\s+established\s+\S+\s+TLSv1\.[23]/m);
  });

  it("status summarises the running server", async () => {
    const r = await xmppS2s(["status", "--json", "--config", a.configFile]);
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { pid: number; hosts: string[]; sessions: { outbound: number }; listeners: { s2s: Array<{ port: number }> } };
    assert.equal(status.pid, process.pid);
    assert.deepEqual(status.hosts, ["a.example"]);
    assert.equal(status.sessions.outbound, 1);
    assert.equal(status.listeners.s2s[0]!.port, a.s2sPort);
    const text = await xmppS2s(["status", "--config", a.configFile]);
    assert.match(text.stdout, /^sessions\s+1 outbound, 1 inbound established/m);
  });

  it("close REMOTE closes its streams and the next stanza establishes a new session", async () => {
    const closed = waitFor(a.server.events$, (e) => e.type === "closed" && e.remote === "b.example", undefined, "A's outbound stream closed");
    const r = await xmppS2s(["close", "b.example", "--config", a.configFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /closed 1 outbound and 1 inbound stream\(s\) with b\.example/);
    await closed;
    const after = await sessionsOf(a);
    assert.ok(!after.some((row) => row.remote === "b.example" && row.state === "established"), JSON.stringify(after));

    const established = waitFor(a.server.events$, (e) => e.type === "established" && e.remote === "b.example", undefined, "a new session");
    await roundTrip();
    await established;
    const again = (await sessionsOf(a)).find((row) => row.direction === "outbound" && row.remote === "b.example");
    assert.equal(again?.state, "established");
    assert.equal(again?.stanzasOut, 1, "a new session counts from zero");
  });

  it("close of a domain without a session says so (exit 1)", async () => {
    const r = await xmppS2s(["close", "nobody.example", "--config", a.configFile]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^close: no session with nobody\.example$/m);
  });

  it("retry REMOTE clears the backoff and connects now", async () => {
    const scheduled = waitFor(a.server.events$, (e) => e.type === "retry_scheduled" && e.remote === "c.example", undefined, "backoff for c.example");
    a.server.send(el("message", { from: "alice@a.example/r", to: "bob@c.example", id: "to-c" }, "jabber:server"));
    await scheduled;
    const waiting = (await sessionsOf(a)).find((row) => row.remote === "c.example");
    assert.equal(waiting?.backoff?.waiting, true, JSON.stringify(waiting));
    assert.equal(waiting?.backoff?.attempt, 1);
    assert.ok((waiting?.backoff?.retryInSeconds ?? -1) >= 0);

    const connecting = waitFor(a.server.events$, (e) => e.type === "connecting" && e.remote === "c.example", undefined, "an attempt at once");
    const r = await xmppS2s(["retry", "c.example", "--config", a.configFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /connecting to c\.example now \(from a\.example\)/);
    await connecting;
  });

  it("fails clearly when no server runs, or the config declares no admin socket", async () => {
    const r0 = await reserve("127.0.0.134");
    const idle = join(certDir, "idle.toml");
    writeFileSync(idle, opsToml({ host: "d.example", ip: r0.ip, admin: true }, r0, certDir).replace(/socket = ".*"/, `socket = "${join(certDir, "nobody.sock")}"`));
    for (const verb of [["sessions"], ["status"], ["close", "b.example"], ["retry", "b.example"]]) {
      const r = await xmppS2s([...verb, "--config", idle]);
      assert.equal(r.code, 1, `${verb[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^${verb[0]}: no server is running with .*idle\\.toml \\(nothing answers on .*nobody\\.sock\\)$`, "m"));
    }
    const bare = join(certDir, "bare.toml");
    writeFileSync(bare, opsToml({ host: "d.example", ip: r0.ip }, r0, certDir));
    const r = await xmppS2s(["status", "--config", bare]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /declares no admin endpoint: add \[admin\] with socket = "PATH"/);
    const usage = await xmppS2s(["close", "--config", bare]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /expected one REMOTE domain/);
  });

  it("a second server on the same admin socket is refused; a stale socket file is replaced", async () => {
    const socket = a.server.config.admin!.socket;
    const second = new AdminServer({ socket, mode: 0o600 }, {}, createLogger("silent"));
    await assert.rejects(second.start(), /admin\.socket: .* is in use by a running server/);
    const stalePath = join(certDir, "stale.sock");
    writeFileSync(stalePath, "");
    const fresh = new AdminServer({ socket: stalePath, mode: 0o600 }, { "GET /ping": () => "pong" }, createLogger("silent"));
    await fresh.start();
    assert.equal(statSync(stalePath).mode & 0o777, 0o600);
    await fresh.stop();
  });
});
