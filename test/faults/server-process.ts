import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RunningServer } from "../helpers/cli.js";

/**
 * A real server process (`xmpp-s2s start`, the built CLI; test/helpers/cli.ts) for faults that need
 * a process to die: write `toml` to `dir/name.toml`, start it, resolve once it logged `started`.
 */
export async function startServerProcess(dir: string, name: string, toml: string): Promise<RunningServer> {
  const file = join(dir, `${name}.toml`);
  writeFileSync(file, toml);
  const server = RunningServer.start(["--config", file, "--log-level", "info"]);
  await server.waitForLog("started");
  return server;
}

/** Send `signal` to the process by its PID, if it still runs. */
export function signal(server: RunningServer, sig: NodeJS.Signals): void {
  const { child } = server;
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, sig);
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopServerProcess(server: RunningServer | undefined, graceMs = 10_000): Promise<void> {
  if (!server) return;
  signal(server, "SIGTERM");
  const timer = setTimeout(() => signal(server, "SIGKILL"), graceMs);
  await server.exited;
  clearTimeout(timer);
}

/** A config for one host with an S2S listener, plaintext S2S, and `s2s.address` entries. */
export function processConfig(options: { host: string; ip: string; s2sPort: number; servicePort?: number; secret?: string; address: Array<{ host: string; ip: string; port: number }> }): string {
  const lines = [`[general]`, `hosts = ["${options.host}"]`, ``, `[[listen.s2s]]`, `port = ${options.s2sPort}`, `ip_address = "${options.ip}"`];
  if (options.servicePort) lines.push(``, `[[listen.service]]`, `port = ${options.servicePort}`, `ip_address = "${options.ip}"`, `password = "${options.secret}"`);
  lines.push(``, `[s2s]`, `use_starttls = "false"`, `shared = "fault-shared-${options.host}"`);
  lines.push(`address = [${options.address.map((a) => `{host = "${a.host}", ip_address = "${a.ip}", port = ${a.port}}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}
