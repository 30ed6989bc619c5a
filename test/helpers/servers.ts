import "reflect-metadata";
import { createServer, type S2sServer } from "../../core/server/server.js";
import { configFromObject } from "../../core/config/load.js";
import { createLogger, type Logger } from "../../core/logging/logger.js";
import { reservePorts } from "../../testing/ports.js";
import type { Clock } from "../../core/clock/clock.js";

export interface TestNodeOptions {
  readonly hosts: string[];
  /** Loopback address of this node, e.g. "127.0.0.11". */
  readonly ip: string;
  /** Extra `[s2s]` keys (snake_case, as in TOML). */
  readonly s2s?: Record<string, unknown>;
  readonly plugins?: Record<string, unknown>;
  readonly listen?: Record<string, unknown>;
  /** Extra keys for the S2S listener table. */
  readonly listener?: Record<string, unknown>;
  /** Component password: when set, a [[listen.service]] is opened. */
  readonly componentPassword?: string;
  readonly logLevel?: "silent" | "debug" | "info";
  /** A logger of the test's own (to read the log lines); overrides logLevel. */
  readonly logger?: Logger;
  readonly baseDir?: string;
  /** The node's time source (a `VirtualClock` to drive its session and stream timers by hand). */
  readonly clock?: Clock;
}

export interface TestNode {
  readonly server: S2sServer;
  readonly ip: string;
  readonly s2sPort: number;
  readonly servicePort?: number;
  stop(): Promise<void>;
}

/** The address entry another node needs to reach `node` for `domain`. */
export function addressOf(node: { ip: string; s2sPort: number }, domain: string): { host: string; ip_address: string; port: number } {
  return { host: domain, ip_address: node.ip, port: node.s2sPort };
}

/** Pick ports first so nodes can name each other in `s2s.address` before any starts. */
export { reservePorts };

export async function startNode(options: TestNodeOptions, ports?: { s2sPort: number; servicePort: number }): Promise<TestNode> {
  const reserved = ports ?? (await reservePorts(options.ip));
  const raw: Record<string, unknown> = {
    general: { hosts: options.hosts },
    listen: {
      s2s: [{ port: reserved.s2sPort, ip_address: options.ip, ...options.listener }],
      ...(options.componentPassword ? { service: [{ port: reserved.servicePort, ip_address: options.ip, password: options.componentPassword }] } : {}),
      ...options.listen,
    },
    s2s: { use_starttls: "false", shared: `secret-${options.ip}`, ...options.s2s },
    ...(options.plugins ? { plugins: options.plugins } : {}),
  };
  const config = configFromObject(raw, { baseDir: options.baseDir ?? process.cwd() });
  const level = (process.env.S2S_TEST_LOG as "debug" | undefined) ?? options.logLevel ?? "silent";
  const server = createServer(config, { logger: options.logger ?? createLogger(level), ...(options.clock ? { clock: options.clock } : {}) });
  await server.start();
  return {
    server,
    ip: options.ip,
    s2sPort: reserved.s2sPort,
    servicePort: options.componentPassword ? reserved.servicePort : undefined,
    stop: () => server.stop(),
  };
}
