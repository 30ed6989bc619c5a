#!/usr/bin/env node
import "../core/cjs/reflect-metadata.js";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "../core/cjs/pino.js";
import { checkConfigFile, loadConfigFileReportingAll } from "../core/check-config.js";
import { isConfigError } from "../core/errors.js";
import { createLogger } from "../core/logging/logger.js";
import { createServer } from "../core/server/server.js";
import { readStatus, StatusFile, statusPath, type ReloadOutcome, type ServerStatus } from "./reload-status.js";
import { reloadTargetProblem } from "../core/server/process-config.js";
import { ADMIN_USAGE, isAdminVerb, runAdminVerb } from "../core/cli/admin-verbs.js";
import { PROBE_USAGE, runProbeVerb } from "../core/cli/probe-verb.js";
import { runDeepCheck } from "../core/cli/deep-check-verb.js";
import { pluginWarnings } from "../core/plugins/loader.js";

/** Exit codes (README "CLI"): 0 ok, 2 invalid configuration, 1 anything else. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;
const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
type Level = (typeof LEVELS)[number];

const COMMANDS = ["start", "check-config", "reload", "sessions", "close", "retry", "status", "probe", "--version", "--help"];
const USAGE = `usage:
  xmpp-s2s start --config FILE [--log-level LEVEL]   run a server (LEVEL: ${LEVELS.join(", ")}; default info)
  xmpp-s2s check-config FILE [--deep]                 validate FILE and its plugins, exit 0 or 2
                                                      (--deep: certificate validity, warning at 30 days)
  xmpp-s2s reload --pid PID [--config FILE] [--timeout SECONDS]
                                                      validate FILE (when given), ask the server PID to
                                                      re-read its config file (SIGHUP), and wait for its
                                                      answer: exit 0 taken, 2 refused, 1 no answer
  xmpp-s2s --version                                  print the version
${ADMIN_USAGE}
${PROBE_USAGE}`;

function printConfigProblems(err: unknown): boolean {
  if (!isConfigError(err)) return false;
  for (const line of err.problems) process.stderr.write(`${line}\n`);
  return true;
}

async function checkConfig(file: string | undefined): Promise<number> {
  if (!file) {
    process.stderr.write(`${USAGE}\n`);
    return EXIT_CONFIG;
  }
  try {
    const warnings = await pluginWarnings(await checkConfigFile(file));
    for (const line of warnings) process.stderr.write(`${line}\n`);
    process.stdout.write(`${file}: configuration is valid${warnings.length ? ` (${warnings.length} warning(s))` : ""}\n`);
    return EXIT_OK;
  } catch (err) {
    if (printConfigProblems(err)) return EXIT_CONFIG;
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILURE;
  }
}

async function start(file: string | undefined, level: string | undefined): Promise<number> {
  if (!file) {
    process.stderr.write(`start: --config FILE is required\n${USAGE}\n`);
    return EXIT_CONFIG;
  }
  if (level !== undefined && !(LEVELS as readonly string[]).includes(level)) {
    process.stderr.write(`--log-level: unknown level (got "${level}", expected one of ${LEVELS.join(", ")})\n`);
    return EXIT_CONFIG;
  }
  // Synchronous stdout: pino's default asynchronous writer, at process.exit, writes the queued
  // lines while an earlier write is still in flight, so the last lines (`shutdown`, `stopped`)
  // came out in the wrong order (and `logger.flush(cb)` does not wait when minLength is 0).
  // One write per line is cheap at the rate a server logs; a crash or exit loses nothing.
  const logger = createLogger((level as Level | undefined) ?? "info", pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream);
  // Signal handlers go in before anything is started or logged: a supervisor that sends SIGTERM
  // as soon as it reads "started" (or at any moment of start-up) must get a graceful shutdown,
  // not the default action (immediate exit). A signal during start-up is acted on once started.
  let pendingSignal: NodeJS.Signals | undefined;
  let pendingReload = false;
  let onSignal = (signal: NodeJS.Signals): void => {
    pendingSignal ??= signal;
  };
  let onHangup = (): void => {
    pendingReload = true;
  };
  // A second SIGTERM/SIGINT forces the exit if shutdown hangs, except right after the first: Ctrl-C
  // in a terminal signals the whole process group, and `npm start` forwards the same signal to us,
  // so one keypress arrives twice within milliseconds (see forceOnRepeat).
  const force = forceOnRepeat(() => logger.warn({ what: "shutdown_forced" }, "second signal: exiting without a graceful shutdown"));
  process.on("SIGTERM", () => force("SIGTERM") || onSignal("SIGTERM"));
  process.on("SIGINT", () => force("SIGINT") || onSignal("SIGINT"));
  process.on("SIGHUP", () => onHangup());

  let server;
  try {
    // The file is validated here and the plugins by start(), which loads and checks them all before
    // any socket is opened (README "CLI"): no separate check-config pass.
    server = createServer(await loadConfigFileReportingAll(file), { logger });
    await server.start();
  } catch (err) {
    if (printConfigProblems(err)) return EXIT_CONFIG;
    logger.fatal({ what: "start_failed", err }, "cannot start");
    // The start error is the answer; a failure to stop after it is logged, not allowed to replace it.
    await server?.stop().catch((stopErr: unknown) => logger.warn({ what: "stop_failed", err: stopErr }, "stop after a failed start failed"));
    return EXIT_FAILURE;
  }
  const running = server;
  const status = new StatusFile(resolve(file));
  const saveStatus = (write: () => void) => {
    try {
      write();
    } catch (err) {
      // Our environment, not the operator's config: the server runs on, `reload --pid` cannot confirm.
      logger.warn({ what: "status_file_failed", file: status.path, reason: (err as Error).message }, "cannot write or remove the status file: reload --pid cannot confirm reloads");
    }
  };
  saveStatus(() => status.write());
  return new Promise<number>((done) => {
    let stopping = false;
    // One reload at a time, in the order the signals came: each outcome is recorded on its own.
    let reloading = Promise.resolve();
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ what: "shutdown", signal });
      saveStatus(() => status.remove());
      running.stop().then(
        () => done(EXIT_OK),
        (err: unknown) => {
          logger.error({ what: "shutdown_failed", err });
          done(EXIT_FAILURE);
        },
      );
    };
    // SIGHUP: re-read the config file; an invalid file is refused and logged, the running config stays.
    const reloadConfig = () => {
      if (stopping) return;
      logger.info({ what: "reload_requested", signal: "SIGHUP" });
      reloading = reloading.then(async () => {
        const at = () => new Date().toISOString();
        let outcome: ReloadOutcome;
        try {
          const report = await running.reload();
          outcome = { ok: true, at: at(), policies: report.policiesReplaced, certificatesReloaded: report.certificatesReloaded, closedInbound: report.closedInbound, needsRestart: report.needsRestart };
        } catch (err) {
          // Already logged by reload() as reload_failed; recorded here for `reload --pid`.
          outcome = { ok: false, at: at(), problems: isConfigError(err) ? err.problems : [(err as Error).message] };
        }
        if (!stopping) saveStatus(() => status.recordReload(outcome));
      });
    };
    onSignal = shutdown;
    onHangup = reloadConfig;
    if (pendingSignal) shutdown(pendingSignal);
    else if (pendingReload) reloadConfig();
  });
}

/** A repeated SIGTERM/SIGINT within this window is the same request delivered twice (terminal + npm), not "force it". */
const DUPLICATE_SIGNAL_MS = 1000;

/**
 * Returns a check to call on every SIGTERM/SIGINT: false for the first one (shut down gracefully)
 * and for a duplicate; for a later one, it logs, restores the default action and re-raises the
 * signal, so the process ends at once (killed by that signal, as without a handler).
 */
function forceOnRepeat(onForce: () => void): (signal: NodeJS.Signals) => boolean {
  let first: number | undefined;
  return (signal) => {
    if (first === undefined) {
      first = Date.now();
      return false;
    }
    if (Date.now() - first < DUPLICATE_SIGNAL_MS) return true;
    onForce();
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return true;
  };
}

async function reload(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { pid: { type: "string" }, config: { type: "string", short: "c" }, timeout: { type: "string" } }, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return EXIT_CONFIG;
  }
  const pid = Number(parsed.values.pid);
  if (!Number.isInteger(pid) || pid <= 0) {
    process.stderr.write(`--pid: expected the server's process id (got ${JSON.stringify(parsed.values.pid ?? null)})\n`);
    return EXIT_CONFIG;
  }
  const seconds = parsed.values.timeout === undefined ? DEFAULT_RELOAD_TIMEOUT_S : Number(parsed.values.timeout);
  if (!(seconds > 0)) {
    process.stderr.write(`--timeout: expected a number of seconds > 0 (got ${JSON.stringify(parsed.values.timeout)})\n`);
    return EXIT_CONFIG;
  }
  if (parsed.values.config) {
    // The server re-reads the file it was started with: validating any other file would vouch for nothing.
    const wrongFile = reloadTargetProblem(pid, parsed.values.config, readStatus(pid)?.file);
    if (wrongFile) {
      process.stderr.write(`${wrongFile}\n`);
      return EXIT_CONFIG;
    }
    // Refuse before signalling: an invalid file would only be refused by the server, quietly, in its log.
    const code = await checkConfig(parsed.values.config);
    if (code !== EXIT_OK) return code;
  }
  const before = readStatus(pid);
  if (!before) {
    // SIGHUP ends a process that does not handle it: signal only a server that says it is one.
    process.stderr.write(`process ${pid} is not a running xmpp-s2s server: no status file ${statusPath(pid)} (not started with \`xmpp-s2s start\`, still starting, or another XMPP_S2S_RUNTIME_DIR); not signalled\n`);
    return EXIT_FAILURE;
  }
  try {
    process.kill(pid, "SIGHUP");
  } catch (err) {
    process.stderr.write(`cannot signal process ${pid}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const outcome = await reloadOutcome(pid, before, seconds * 1000);
  if (typeof outcome === "string") {
    process.stderr.write(`process ${pid}: ${outcome}\n`);
    return EXIT_FAILURE;
  }
  if (!outcome.ok) {
    process.stderr.write(`process ${pid} refused the configuration in ${before.file} and keeps the one it had:\n`);
    for (const line of outcome.problems) process.stderr.write(`${line}\n`);
    return EXIT_CONFIG;
  }
  process.stdout.write(`process ${pid} took the new configuration from ${before.file} (${outcome.policies} policies, certificates ${outcome.certificatesReloaded ? "re-read" : "unchanged"}, ${outcome.closedInbound} inbound streams closed by policy)\n`);
  if (outcome.needsRestart.length) process.stderr.write(`changed, but applied only after a restart: ${outcome.needsRestart.join(", ")}\n`);
  return EXIT_OK;
}

/** Loading plugins and certificates can take a while on a busy machine; the answer normally comes in milliseconds. */
const DEFAULT_RELOAD_TIMEOUT_S = 30;
const STATUS_POLL_MS = 100;

/** The outcome of the reload after `before`, or why there is none. Polls the status file (see reload-status.ts). */
async function reloadOutcome(pid: number, before: ServerStatus, timeoutMs: number): Promise<ReloadOutcome | string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = readStatus(pid);
    if (!now || now.boot !== before.boot) return "the server stopped (or restarted) before confirming the reload; see its log";
    if (now.reloads > before.reloads && now.lastReload) return now.lastReload;
    if (Date.now() > deadline) return `no confirmation within ${timeoutMs / 1000} s (${statusPath(pid)} unchanged); see the server's log for reload_requested, config_reloaded or reload_failed`;
    await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "check-config") return rest.includes("--deep") ? runDeepCheck(rest) : checkConfig(rest[0]);
  if (command === "start") {
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { config: { type: "string", short: "c" }, "log-level": { type: "string" } }, strict: true });
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
      return EXIT_CONFIG;
    }
    return start(parsed.values.config, parsed.values["log-level"]);
  }
  if (command === "reload") return reload(rest);
  if (isAdminVerb(command)) return runAdminVerb(command!, rest);
  if (command === "probe") return runProbeVerb(rest);
  if (command === "--version" || command === "-V" || command === "version") {
    process.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  process.stderr.write(`unknown command ${JSON.stringify(command)} (expected ${COMMANDS.join(", ")})\n${USAGE}\n`);
  return EXIT_CONFIG;
}

/** The installed package's version: dist/bin/xmpp-s2s.js -> ../../package.json (shipped in every install). */
function version(): string {
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

main(process.argv.slice(2)).then((code) => {
  // Log lines are written synchronously (see start()), so nothing is pending: exit with the contract's code.
  process.exitCode = code;
  setImmediate(() => process.exit(code));
});
