/**
 * Issue 19: `server.stop()` closes or aborts everything the server owns, including an outbound
 * connection still negotiating, so a process that embeds the server exits by itself right after
 * `stop()` (the README snippet ran for 10 minutes). The embedding API runs in a child process
 * (stop-child.ts); the peer is a raw TCP server on loopback that accepts and never says a word,
 * for a plain target (stream header unanswered) and a direct TLS target (handshake unanswered);
 * and a DNS server on loopback that never answers (a query in flight).
 * The message sent before `stop()` is answered to its sender with an error, never lost.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { listenOnFreePort } from "../helpers/ports.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Well under the 30 s TLS handshake timeout and the 600 s deadlines of the child's config. */
const EXIT_DEADLINE_MS = 15_000;
const START_DEADLINE_MS = 60_000;

const children = new Set<ChildProcess>();
const servers = new Set<{ close(): unknown }>();
after(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const s of servers) s.close();
});

/** A DNS "server" that reads queries and never answers; resolves `accepted` at the first query. */
async function silentDns(): Promise<{ port: number; accepted: Promise<void> }> {
  const socket = createSocket("udp4");
  let onQuery!: () => void;
  const accepted = new Promise<void>((r) => (onQuery = r));
  socket.on("message", () => onQuery());
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  servers.add(socket);
  return { port: socket.address().port, accepted };
}

/** A TCP server that accepts and stalls; resolves `accepted` at the first connection. */
async function stallingPeer(): Promise<{ port: number; accepted: Promise<void> }> {
  const sockets = new Set<Socket>();
  let onAccept!: () => void;
  const accepted = new Promise<void>((r) => (onAccept = r));
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onAccept();
  });
  server.on("close", () => { for (const s of sockets) s.destroy(); });
  servers.add(server as Server);
  return { port: await listenOnFreePort(server, "127.0.0.1"), accepted };
}

const WHAT = { tcp: "stream is negotiating", tls: "direct TLS handshake is pending", dns: "DNS query is in flight" } as const;
for (const mode of ["tcp", "tls", "dns"] as const) {
  describe(`stop() while an outbound ${WHAT[mode]}`, () => {
    it("the embedding process exits promptly, and the message sent before stop() is bounced", async () => {
      const peer = mode === "dns" ? await silentDns() : await stallingPeer();
      const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "stop-child.ts"), String(peer.port), mode], { stdio: ["pipe", "pipe", "pipe"] });
      children.add(child);
      let stdout = "";
      let stderr = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));

      const reached = await Promise.race([peer.accepted.then(() => true), exited.then(() => false), sleepFor(START_DEADLINE_MS).then(() => false)]);
      assert.ok(reached, `the child never connected to the peer\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      child.stdin!.end("stop\n");
      const code = await Promise.race([exited, sleepFor(EXIT_DEADLINE_MS).then(() => "still running" as const)]);
      assert.equal(code, 0, `the process did not exit within ${EXIT_DEADLINE_MS} ms of stop()\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.some((l) => l.stopped === true), stdout);
      const bounces = lines.filter((l) => l.stanza === "message" && l.id === "m1");
      assert.equal(bounces.length, 1, `one answer to the message sent before stop()\n${stdout}`);
      assert.equal(bounces[0]!.type, "error");
    });
  });
}

/** A timer that never keeps the test process alive. */
function sleepFor(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
