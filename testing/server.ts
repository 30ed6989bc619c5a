import { Writable } from "node:stream";
import { merge, ReplaySubject, type Observable } from "rxjs";
import { loadConfigFile } from "../core/config/load.js";
import type { S2sEvent } from "../core/events/events.js";
import { createLogger, type Logger } from "../core/logging/logger.js";
import { createServer, type S2sServer } from "../core/server/server.js";
import { DEADLINE_MS, waitFor } from "./wait.js";

/** One JSON log line, parsed: `what`, `level`, and whatever the line carries. */
export type LogLine = Readonly<Record<string, unknown>> & { readonly what?: string };

/** A log line or an event (`S2sEvent`), as `waitFor` hands them over: read its fields by name. */
export type Entry = Readonly<Record<string, unknown>>;

/** A logger whose lines a test can wait on; every line ever written is replayed to late subscribers. */
export function captureLogs(level: "info" | "debug" = "info"): { logger: Logger; logs$: Observable<LogLine> } {
  const logs = new ReplaySubject<LogLine>();
  let partial = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) logs.next(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger(level, sink), logs$: logs.asObservable() };
}

export interface TestServer {
  readonly server: S2sServer;
  /** Every log line since the server was created (replayed). */
  readonly logs$: Observable<LogLine>;
  /**
   * The first log line (since start) or event on `events$` (from now on) whose `what` / `type` is
   * `what` and that `match` accepts. Plugins' own log lines (`denylist_loaded`) and the core's
   * events (`established`, `policy_decision`, `stanza_bounced`) share one vocabulary.
   */
  waitFor(what: string, match?: (entry: Entry) => boolean, ms?: number): Promise<Entry>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** "info" (default) or "debug" for the lines `waitFor` can see. */
  readonly logLevel?: "info" | "debug";
}

/** What `xmpp-s2s start --config FILE` does, in this process: load and validate the TOML file (and its plugins), start. */
export async function startServer(file: string, options: StartOptions = {}): Promise<TestServer> {
  const { logger, logs$ } = captureLogs(options.logLevel ?? "info");
  const server = createServer(loadConfigFile(file), { logger });
  await server.start();
  const entries$: Observable<Entry> = merge(logs$, server.events$ as Observable<S2sEvent>);
  return {
    server,
    logs$,
    waitFor: (what, match = () => true, ms = DEADLINE_MS) => waitFor(entries$, (e) => (e.type === what || e.what === what) && match(e), ms, `"${what}"`),
    stop: () => server.stop(),
  };
}

export interface LoopbackNode {
  /** Local domains (`general.hosts`). */
  readonly hosts: readonly string[];
  /** This server's loopback address, e.g. "127.0.0.41" (one per server, so ports never clash). */
  readonly ip: string;
  readonly s2sPort: number;
  /** Opens a `[[listen.service]]` for XEP-0114 components on this port. */
  readonly servicePort?: number;
  /** Component password (default "secret"). */
  readonly servicePassword?: string;
  /** `s2s.address` entries: where other servers' domains listen. */
  readonly address?: ReadonlyArray<{ readonly host: string; readonly ip: string; readonly port: number }>;
}

/**
 * `[general]`, `[[listen.*]]` and `[s2s]` of a test server on loopback, as an operator writes them
 * (no TLS, dialback with a per-server secret, peers found through `s2s.address`). Append your
 * `[plugins]` tables and write it next to the plugin's data files.
 */
export function loopbackToml(node: LoopbackNode): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    "[general]",
    `hosts = [${node.hosts.map(q).join(", ")}]`,
    "",
    "[[listen.s2s]]",
    `port = ${node.s2sPort}`,
    `ip_address = ${q(node.ip)}`,
    "",
    ...(node.servicePort === undefined ? [] : ["[[listen.service]]", `port = ${node.servicePort}`, `ip_address = ${q(node.ip)}`, `password = ${q(node.servicePassword ?? "secret")}`, ""]),
    "[s2s]",
    `use_starttls = "false"`,
    `shared = ${q(`secret-${node.ip}`)}`,
    `address = [`,
    ...(node.address ?? []).map((a) => `  { host = ${q(a.host)}, ip_address = ${q(a.ip)}, port = ${a.port} },`),
    `]`,
    "",
  ].join("\n");
}
