/**
 * Servers for the operations tests, each from a real TOML file (the admin verbs find a server by
 * its config file, as operators do). Every server gets its own loopback address, ports and temp
 * folder (admin socket, config file).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFile } from "../../core/config/load.js";
import { createLogger } from "../../core/logging/logger.js";
import { createServer, type S2sServer } from "../../core/server/server.js";
import { freePort } from "../helpers/ports.js";

export interface OpsNodeOptions {
  readonly host: string;
  readonly ip: string;
  /** Lines of the `[s2s]` table (TOML). */
  readonly s2s?: readonly string[];
  /** Other TOML appended verbatim (e.g. [plugins]). */
  readonly extra?: string;
  readonly metrics?: boolean;
  readonly admin?: boolean;
}

export interface OpsNode {
  readonly server: S2sServer;
  readonly ip: string;
  readonly s2sPort: number;
  readonly httpPort?: number;
  readonly configFile: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export interface Reserved {
  readonly ip: string;
  readonly s2sPort: number;
  readonly httpPort: number;
}

export async function reserve(ip: string): Promise<Reserved> {
  return { ip, s2sPort: await freePort(ip), httpPort: await freePort(ip) };
}

export function addressLine(host: string, node: { ip: string; s2sPort: number }): string {
  return `{ host = "${host}", ip_address = "${node.ip}", port = ${node.s2sPort} }`;
}

/** The TOML of one node: what an operator would write. */
export function opsToml(o: OpsNodeOptions, r: Reserved, dir: string): string {
  return [
    `[general]`,
    `hosts = ["${o.host}"]`,
    ``,
    `[[listen.s2s]]`,
    `port = ${r.s2sPort}`,
    `ip_address = "${r.ip}"`,
    ...(o.metrics
      ? [``, `[[listen.http]]`, `port = ${r.httpPort}`, `ip_address = "${r.ip}"`, `[[listen.http.handlers.mongoose_prometheus_handler]]`, `host = "_"`, `path = "/metrics"`, ``, `[instrumentation.prometheus]`]
      : []),
    ...(o.admin ? [``, `[admin]`, `socket = "${join(dir, "admin.sock")}"`] : []),
    ``,
    `[s2s]`,
    `shared = "secret-${o.ip}"`,
    ...(o.s2s ?? [`use_starttls = "false"`]),
    ``,
    o.extra ?? "",
  ].join("\n");
}

export function writeOpsConfig(o: OpsNodeOptions, r: Reserved): { dir: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "xs2s-ops-"));
  const configFile = join(dir, "s2s.toml");
  writeFileSync(configFile, opsToml(o, r, dir));
  return { dir, configFile };
}

export async function startOpsNode(o: OpsNodeOptions, r?: Reserved): Promise<OpsNode> {
  const reserved = r ?? (await reserve(o.ip));
  const { dir, configFile } = writeOpsConfig(o, reserved);
  const level = (process.env.S2S_TEST_LOG as "debug" | undefined) ?? "silent";
  const server = createServer(loadConfigFile(configFile), { logger: createLogger(level) });
  await server.start();
  return {
    server,
    ip: reserved.ip,
    s2sPort: reserved.s2sPort,
    ...(o.metrics ? { httpPort: reserved.httpPort } : {}),
    configFile,
    dir,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One scrape, as Prometheus does it. */
export async function scrape(node: OpsNode, path = "/metrics"): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(`http://${node.ip}:${node.httpPort}${path}`);
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

/** The value of one sample (`name{a="x",b="y"}`, labels in any order), or undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}
