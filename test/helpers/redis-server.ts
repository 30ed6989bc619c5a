/**
 * A real redis-server for the cluster tests (docs/cluster.md): free port on its own loopback address
 * (127.0.0.230, away from the 127.0.0.1 ports other test files pick concurrently), its own config and
 * data folder in a temp dir, no persistence, stopped by PID. `restart()` keeps the port, so
 * clients reconnect to an empty Redis (what a restart without persistence looks like).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { DEADLINE_MS } from "./wait.js";

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** SIGKILL then start again on the same port (data gone). */
  restart(): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** True when the Debian `redis-server` is installed (.ci/run installs it). */
export function redisServerAvailable(): boolean {
  return spawnSync("redis-server", ["--version"]).status === 0;
}

/**
 * The `skip` option of a cluster test suite: false when redis-server is installed, else the reason.
 * In CI (`XMPP_S2S_REQUIRE_REDIS=1`, set by .ci/run) a missing redis-server is a failure, not a skip.
 */
export function skipWithoutRedis(): false | string {
  if (redisServerAvailable()) return false;
  if (process.env.XMPP_S2S_REQUIRE_REDIS === "1") throw new Error("redis-server is not installed and XMPP_S2S_REQUIRE_REDIS=1");
  return "redis-server is not installed (.ci/run installs it)";
}

export interface RedisOptions {
  /** Clients must AUTH with it (requirepass). */
  readonly password?: string;
  /** TLS only (rediss://): PEM files of the server's certificate and key, and of the CA it names. */
  readonly tls?: { readonly certfile: string; readonly keyfile: string; readonly cafile: string };
}

export async function startRedis(ip = "127.0.0.230", options: RedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "xs2s-redis-"));
  const port = await freePort(ip);
  const conf = join(dir, "redis.conf");
  const tls = options.tls;
  const listen = tls
    ? ["port 0", `tls-port ${port}`, `tls-cert-file ${tls.certfile}`, `tls-key-file ${tls.keyfile}`, `tls-ca-cert-file ${tls.cafile}`, "tls-auth-clients no"]
    : [`port ${port}`];
  writeFileSync(conf, [...listen, `bind ${ip}`, `dir ${dir}`, 'save ""', "appendonly no", "daemonize no", "protected-mode no", "loglevel notice", ...(options.password ? [`requirepass ${options.password}`] : []), ""].join("\n"));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const proc = spawn("redis-server", [conf], { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within ${DEADLINE_MS} ms: ${out}`)), DEADLINE_MS);
      proc.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out}`));
      });
    });
    proc.stdout!.resume();
    proc.stderr!.resume();
  };

  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    process.kill(proc.pid!, signal);
    await exited;
  };

  await launch();
  return {
    url: `${tls ? "rediss" : "redis"}://${ip}:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    restart: async () => {
      await kill("SIGKILL");
      await launch();
    },
    kill: () => kill("SIGKILL"),
    start: launch,
    stop: async () => {
      await kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
