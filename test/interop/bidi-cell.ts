/**
 * The XEP-0288 cells of the interop matrix (docs/interop.md): Prosody 0.12 with mod_s2s_bidi and
 * one of ours. Whoever opens the connection, stanzas flow both ways over it, and `ss` inside the
 * namespace counts the TCP connections left between the two servers: one in certificate mode
 * (SASL EXTERNAL); with dialback the receiving server verifies over a connection of its own
 * (XEP-0288 §2.2), which we close once it has served and Prosody keeps.
 */
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml as clientXml } from "@xmpp/client";
import { el, NS } from "../../core/index.js";
import { waitFor } from "../helpers/wait.js";
import { CELL_DEADLINE_MS, cellHooks, check, loadWorld, type CellState, type OurKey } from "./world.js";

let ids = 0;
const nextId = (prefix: string) => `${prefix}-${process.pid}-${++ids}`;

/**
 * Established TCP connections between our server and the Prosody, seen from the connecting end:
 * the socket whose peer is Prosody's S2S port (we connected) or our S2S port (Prosody connected).
 * Both ends live in this namespace, so counting the connecting end counts each connection once.
 */
export function connectionsBetween(ours: { ip: string; s2sPort: number }, prosody: { ip: string; s2sPort: number }): string[] {
  const r = spawnSync("ss", ["-Htn", "state", "established"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ss failed: ${r.stderr || r.error?.message}`);
  const peers = new Set([`${prosody.ip}:${prosody.s2sPort}`, `${ours.ip}:${ours.s2sPort}`]);
  return r.stdout.split("\n").filter((line) => {
    const cols = line.trim().split(/\s+/);
    return cols.length >= 2 && peers.has(cols[cols.length - 1]!);
  });
}

/** A user on Prosody writes to echo@ours: the echo comes back. */
async function echoFromProsody({ ours, user }: CellState): Promise<void> {
  const id = nextId("bidi-echo");
  await user.send(clientXml("message", { to: `echo@${ours.info.domain}`, type: "chat", id }, clientXml("body", {}, "bidi echo")));
  const echo = await user.next((s: any) => s.is("message") && s.attrs.id === id);
  assert.equal(echo.attrs.type, "chat", `expected the echo, got ${echo}`);
  assert.equal(echo.attrs.from, `echo@${ours.info.domain}`);
}

/** hal@ours writes to the user on Prosody (embedding API), who answers: both arrive. */
async function fromOurs({ ours, user }: CellState): Promise<void> {
  const id = nextId("bidi-hal");
  const hal = `hal@${ours.info.domain}/desk`;
  ours.server.send(el("message", { from: hal, to: user.jid, type: "chat", id }, NS.SERVER, el("body", {}, NS.SERVER, "from ours")));
  const got = await user.next((s: any) => s.is("message") && s.attrs.id === id);
  assert.equal(got.attrs.type, "chat", `expected hal's message, got ${got}`);
  const reply = waitFor(ours.server.stanzas$, (s) => s.attr("id") === `${id}-reply`, CELL_DEADLINE_MS, "the user's reply");
  await user.send(clientXml("message", { to: hal, type: "chat", id: `${id}-reply` }, clientXml("body", {}, "reply")));
  const answer = await reply;
  assert.equal(answer.attr("type"), "chat", `expected the reply, got ${answer}`);
  assert.equal(answer.attr("from"), user.jid);
}

export interface BidiExpectation {
  readonly method: "sasl_external" | "dialback";
  /** Established TCP connections left between the two servers once both directions worked. */
  readonly connections: number;
  /** Why, when not one. */
  readonly why?: string;
}

export function bidiCell(key: Extract<OurKey, "bidip" | "bidio" | "bidbp" | "bidbo">, opener: "prosody" | "ours", expected: BidiExpectation): void {
  const loaded = loadWorld();
  const world = loaded.world;
  const info = world?.ours[key];
  const peer = world && info ? world.prosody[info.peer] : undefined;
  const title = world && info && peer
    ? `XEP-0288 ${expected.method}: Prosody ${peer.domain} (mod_s2s_bidi) × ours ${info.domain}, ${opener === "prosody" ? "Prosody" : "ours"} opens the connection`
    : `interop cell ${key}`;
  describe(title, { skip: loaded.skip ?? false }, () => {
    const state = cellHooks(world, key, title);

    it("stanzas both ways, over the connection the opener made", async () => {
      const s = state();
      await check(s.observed, `${title}: traffic`, async () => {
        if (opener === "prosody") {
          await echoFromProsody(s);
          await fromOurs(s);
        } else {
          await fromOurs(s);
          await echoFromProsody(s);
        }
      });
    });

    it(`${expected.connections} TCP connection(s) left between the two servers (ss in the namespace), bidi on the opener's, ${expected.method}${expected.why ? ` (${expected.why})` : ""}`, async (t) => {
      const s = state();
      const { ours, observed } = s;
      const remote = observed.prosody.domain;
      await check(observed, `${title}: connections`, async () => {
        const over = opener === "prosody" ? "inbound" : "outbound";
        await ours.waitEvent((e) => e.type === "bidi_up" && e.over === over && e.local === ours.info.domain && e.remote === remote, `bidi_up over ${over}`);
        const mine = ours.events.map((e) => e.event);
        if (expected.method === "sasl_external") {
          // The opener's side only: we never connected to Prosody, or Prosody never connected to us.
          if (opener === "prosody") assert.deepEqual(mine.filter((e) => e.type === "connected"), [], "we opened no connection");
          else assert.deepEqual(mine.filter((e) => e.type === "inbound_accepted"), [], "Prosody opened no connection to us");
          const methods = mine.filter((e) => e.type === "authenticated" && e.remote === remote).map((e) => `${(e as { direction: string }).direction} ${(e as { method: string }).method}`);
          assert.deepEqual(methods, [`${over} sasl_external`]);
        } else {
          const methods = new Set(mine.filter((e) => e.type === "authenticated" && e.remote === remote).map((e) => (e as { method: string }).method));
          assert.deepEqual([...methods], ["dialback"]);
          // Prosody opened: our verification connection is closed once it has served (XEP-0220 §2.1.2).
          if (opener === "prosody") await ours.waitEvent((e) => e.type === "closed" && e.local === ours.info.domain && e.remote === remote, "our verification connection closed");
        }
        const lines = connectionsBetween(ours.info, observed.prosody);
        t.diagnostic(`ss: ${JSON.stringify(lines)}`);
        assert.equal(lines.length, expected.connections, `established connections between ${ours.info.ip}:${ours.info.s2sPort} and ${observed.prosody.ip}:${observed.prosody.s2sPort}: ${lines.join(" | ")}`);
      }, { whole: true });
    });
  });
}
