/**
 * `xmpp-s2s sessions|close|retry|status --config FILE`: the admin verbs (docs/operations.md). Each finds
 * the running server through the `[admin] socket` of FILE and prints its answer, as a table or,
 * with `--json`, as JSON. Exit 0 on success, 1 when no server answers or it refuses, 2 for usage
 * or configuration errors.
 */
import { parseArgs } from "node:util";
import { isConfigError } from "../errors.js";
import type { SessionRow } from "../admin/inspect.js";
import { adminRequest, AdminUnavailable } from "./admin-client.js";

export const ADMIN_USAGE = `  xmpp-s2s sessions --config FILE [--json]            list the S2S sessions of the running server
  xmpp-s2s close REMOTE --config FILE [--json]        close every stream with domain REMOTE
  xmpp-s2s retry REMOTE --config FILE [--from HOST]   clear REMOTE's backoff and connect now
  xmpp-s2s status --config FILE [--json]              uptime, listeners, counts of the running server`;

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

interface Verb {
  readonly method: "GET" | "POST";
  readonly path: string;
  /** Takes a positional REMOTE. */
  readonly remote: boolean;
  readonly print: (body: unknown) => string;
}

const VERBS: Readonly<Record<string, Verb>> = {
  sessions: { method: "GET", path: "/sessions", remote: false, print: (b) => sessionsTable(b as SessionRow[]) },
  close: { method: "POST", path: "/close", remote: true, print: (b) => closedLine(b as { remote: string; closed: { outbound: number; inbound: number } }) },
  retry: { method: "POST", path: "/retry", remote: true, print: (b) => retryLine(b as { remote: string; connecting: string[] }) },
  status: { method: "GET", path: "/status", remote: false, print: (b) => statusText(b as Record<string, unknown>) },
};

export function isAdminVerb(command: string | undefined): boolean {
  return command !== undefined && Object.hasOwn(VERBS, command);
}

export async function runAdminVerb(command: string, args: string[]): Promise<number> {
  const verb = VERBS[command]!;
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { config: { type: "string", short: "c" }, json: { type: "boolean" }, from: { type: "string" } } });
  } catch (err) {
    process.stderr.write(`${command}: ${(err as Error).message}\nusage:\n${ADMIN_USAGE}\n`);
    return EXIT_USAGE;
  }
  const { config, json, from } = parsed.values;
  const remote = parsed.positionals[0];
  if (!config || (verb.remote && (!remote || parsed.positionals.length > 1)) || (!verb.remote && parsed.positionals.length > 0)) {
    process.stderr.write(`${command}: ${!config ? "--config FILE is required" : verb.remote ? "expected one REMOTE domain" : "takes no positional argument"}\nusage:\n${ADMIN_USAGE}\n`);
    return EXIT_USAGE;
  }
  const query = new URLSearchParams();
  if (remote) query.set("remote", remote);
  if (from) query.set("from", from);
  const path = query.size > 0 ? `${verb.path}?${query}` : verb.path;
  try {
    const answer = await adminRequest(config, verb.method, path);
    if (answer.status !== 200) {
      process.stderr.write(`${command}: ${(answer.body as { error?: string }).error ?? `HTTP ${answer.status}`}\n`);
      return EXIT_FAILURE;
    }
    process.stdout.write(json ? `${JSON.stringify(answer.body, null, 2)}\n` : verb.print(answer.body));
    return EXIT_OK;
  } catch (err) {
    if (isConfigError(err)) {
      for (const line of err.problems) process.stderr.write(`${line}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof AdminUnavailable) {
      process.stderr.write(`${command}: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    throw err;
  }
}

function cert(row: SessionRow): string {
  if (!row.tls) return "-";
  return row.tls.certificate.verified ? "verified" : `not verified (${row.tls.certificate.reason})`;
}

function backoff(row: SessionRow): string {
  if (!row.backoff?.waiting) return "-";
  return `attempt ${row.backoff.attempt}${row.backoff.retryInSeconds === null ? "" : `, retry in ${row.backoff.retryInSeconds}s`}`;
}

const DIR = { inbound: "in", outbound: "out", route: "route" } as const;

/**
 * Columns padded to their widest cell; the certificate reason last, since it can be long. In
 * cluster mode (rows with a `node`), NODE and OWNER follow REMOTE.
 */
export function sessionsTable(rows: readonly SessionRow[]): string {
  if (rows.length === 0) return "no S2S sessions\n";
  const cluster = rows.some((r) => r.node !== undefined);
  const header = ["DIR", "LOCAL", "REMOTE", ...(cluster ? ["NODE", "OWNER"] : []), "STATE", "AUTH", "TLS", "AGE", "IN", "OUT", "QUEUE", "BACKOFF", "CERTIFICATE"];
  const cells = rows.map((r) => [
    DIR[r.direction],
    r.local || "-",
    r.remote || "-",
    ...(cluster ? [r.node ?? "-", r.owner ?? "-"] : []),
    r.state,
    r.auth ?? "-",
    r.direction === "route" ? "-" : r.tls ? `${r.tls.version ?? "?"} ${r.tls.cipher ?? ""}`.trim() : "none",
    r.ageSeconds === null ? "-" : `${Math.round(r.ageSeconds)}s`,
    r.stanzasIn === null ? "-" : String(r.stanzasIn),
    r.stanzasOut === null ? "-" : String(r.stanzasOut),
    String(r.queued),
    backoff(r),
    cert(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join("  ").trimEnd();
  return `${[header, ...cells].map(line).join("\n")}\n`;
}

function closedLine(b: { remote: string; closed: { outbound: number; inbound: number } }): string {
  return `closed ${b.closed.outbound} outbound and ${b.closed.inbound} inbound stream(s) with ${b.remote}\n`;
}

function retryLine(b: { remote: string; connecting: string[] }): string {
  return `connecting to ${b.remote} now (from ${b.connecting.join(", ")}); backoff cleared\n`;
}

function statusText(b: Record<string, unknown>): string {
  const s = b as {
    pid: number; config: string | null; hosts: string[]; uptimeSeconds: number;
    listeners: { s2s: Array<{ address: string; port: number }>; http: Array<{ address: string; port: number }> };
    sessions: { inbound: number; outbound: number; negotiating: number }; stanzas: { inbound: number; outbound: number };
    queued: number; backoffRemotes: string[];
    cluster?: { node: string; nodes: string[]; connected: boolean; forwarded: number; received: number };
  };
  const addr = (l: Array<{ address: string; port: number }>) => l.map((a) => `${a.address}:${a.port}`).join(", ") || "-";
  return [
    `running      pid ${s.pid}, up ${s.uptimeSeconds}s, config ${s.config ?? "(in code)"}`,
    `hosts        ${s.hosts.join(", ")}`,
    `listening    s2s ${addr(s.listeners.s2s)}; http ${addr(s.listeners.http)}`,
    `sessions     ${s.sessions.outbound} outbound, ${s.sessions.inbound} inbound established; ${s.sessions.negotiating} negotiating`,
    `stanzas      ${s.stanzas.inbound} in, ${s.stanzas.outbound} out; ${s.queued} queued`,
    `backoff      ${s.backoffRemotes.length === 0 ? "none" : s.backoffRemotes.join(", ")}`,
    ...(s.cluster ? [`cluster      node ${s.cluster.node} of ${s.cluster.nodes.join(", ")}; Redis ${s.cluster.connected ? "connected" : "UNREACHABLE"}; ${s.cluster.forwarded} forwarded, ${s.cluster.received} received`] : []),
    "",
  ].join("\n");
}
