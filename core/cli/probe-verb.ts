/**
 * `xmpp-s2s probe DOMAIN --config FILE [--from LOCALHOST] [--json]` (docs/operations.md): one outbound
 * negotiation from FILE's configuration, step by step. Exit 0 when federation works, 1 naming the
 * failing step, 2 for usage or configuration errors.
 *
 * Dialback needs the remote to call back: it verifies our key with our authoritative server
 * (XEP-0220 §2.1.2), and the ping's answer comes over its own stream to us. So the probe runs
 * where those connections arrive:
 * - a server of FILE is running with an `[admin]` socket: the probe runs inside it (admin API
 *   "test federation");
 * - otherwise a temporary server from FILE opens FILE's S2S listeners for the duration of the probe
 *   (no metrics listener, no admin socket). If they are in use (a server runs without `[admin]`),
 *   the probe says so and stops: it cannot tell a dialback failure from our missing listener.
 */
import { parseArgs } from "node:util";
import { loadConfigFile } from "../config/load.js";
import type { S2sConfig } from "../config/types.js";
import { isConfigError } from "../errors.js";
import { createLogger } from "../logging/logger.js";
import type { ProbeReport } from "../probe/probe.js";
import { createServer, DEFAULT_PROBE_TIMEOUT_MS } from "../server/server.js";
import { adminRequest, AdminUnavailable } from "./admin-client.js";
import { formatProbeReport } from "../probe/format.js";

export const PROBE_USAGE = `  xmpp-s2s probe DOMAIN --config FILE [--from HOST] [--json] [--timeout SECONDS] [--log-level LEVEL]
                                                      test federation to DOMAIN step by step (exit 0 ok, 1 failed)`;

const LOG_LEVELS: readonly string[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export type ProbeRun = ProbeReport & { readonly ranIn: "running server" | "temporary server" };

export async function runProbeVerb(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { config: { type: "string", short: "c" }, from: { type: "string" }, json: { type: "boolean" }, timeout: { type: "string" }, "log-level": { type: "string" } },
    });
  } catch (err) {
    process.stderr.write(`probe: ${(err as Error).message}\nusage:\n${PROBE_USAGE}\n`);
    return 2;
  }
  const { config: file, from, json } = parsed.values;
  const domain = parsed.positionals[0];
  const timeoutS = parsed.values.timeout === undefined ? DEFAULT_PROBE_TIMEOUT_MS / 1000 : Number(parsed.values.timeout);
  const level = parsed.values["log-level"];
  if (level !== undefined && !LOG_LEVELS.includes(level)) {
    process.stderr.write(`probe: --log-level: unknown level (got "${level}", expected one of ${LOG_LEVELS.join(", ")})\n`);
    return 2;
  }
  if (!file || !domain || parsed.positionals.length > 1 || !(timeoutS > 0)) {
    process.stderr.write(`probe: ${!file ? "--config FILE is required" : !(timeoutS > 0) ? "--timeout: expected a positive number of seconds" : "expected one DOMAIN"}\nusage:\n${PROBE_USAGE}\n`);
    return 2;
  }
  let config: S2sConfig;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (!isConfigError(err)) throw err;
    for (const line of err.problems) process.stderr.write(`${line}\n`);
    return 2;
  }
  if (from !== undefined && !config.general.hosts.includes(from.toLowerCase())) {
    process.stderr.write(`probe: --from ${from} is not one of the hosts of ${file} (${config.general.hosts.join(", ")})\n`);
    return 2;
  }
  let run: ProbeRun | { error: string };
  try {
    run = (await inRunningServer(file, config, domain, from, timeoutS)) ?? (await inTemporaryServer(config, domain, from, timeoutS, level));
  } catch (err) {
    run = { error: (err as Error).message };
  }
  if ("error" in run) {
    process.stderr.write(`probe: ${run.error}\n`);
    return 1;
  }
  process.stdout.write(json ? `${JSON.stringify(run, null, 2)}\n` : formatProbeReport(run, run.ranIn));
  return run.ok ? 0 : 1;
}

async function inRunningServer(file: string, config: S2sConfig, domain: string, from: string | undefined, timeoutS: number): Promise<ProbeRun | undefined> {
  if (!config.admin) return undefined;
  const query = new URLSearchParams({ remote: domain, ...(from ? { from } : {}) });
  try {
    const answer = await adminRequest(file, "POST", `/probe?${query}`, timeoutS * 1000 + 10_000);
    if (answer.status !== 200) throw new Error((answer.body as { error?: string }).error ?? `HTTP ${answer.status}`);
    return { ...(answer.body as ProbeReport), ranIn: "running server" };
  } catch (err) {
    if (err instanceof AdminUnavailable && err.notRunning) return undefined;
    throw err;
  }
}

async function inTemporaryServer(config: S2sConfig, domain: string, from: string | undefined, timeoutS: number, level: string | undefined): Promise<ProbeRun | { error: string }> {
  const logger = createLogger((level ?? "silent") as "silent", process.stderr);
  const server = createServer(config, { logger, operations: false });
  try {
    await server.start();
  } catch (err) {
    // The start error is the answer; a failure to stop after it is logged, not allowed to replace it.
    await server.stop().catch((stopErr: unknown) => logger.warn({ what: "stop_failed", err: stopErr }, "stop after a failed start failed"));
    const inUse = (err as NodeJS.ErrnoException).code === "EADDRINUSE";
    return {
      error: inUse
        ? `cannot open the S2S listeners of the config (${(err as Error).message}): is its server running? The remote's dialback verification and the ping answer must reach a listener of ours. Add [admin] socket = "PATH" to the config of the running server and probe again: the probe then runs inside it`
        : `cannot start a temporary server from the config: ${(err as Error).message}`,
    };
  }
  try {
    return { ...(await server.probe(domain.toLowerCase(), from?.toLowerCase(), timeoutS * 1000)), ranIn: "temporary server" };
  } finally {
    await server.stop();
  }
}
