/**
 * In-process cluster nodes for the cluster tests: every node serves a.example, shares one
 * `s2s.shared` secret and one Redis; `remote` is a server of ours for b.example reaching the
 * cluster at the addresses given (s2s.address or DNS SRV).
 */
import "reflect-metadata";
import { CLUSTER, type Cluster } from "../../core/cluster/cluster.js";
import { configFromObject } from "../../core/config/load.js";
import { createLogger } from "../../core/logging/logger.js";
import { createServer, type S2sServer } from "../../core/server/server.js";
import { reservePorts } from "../helpers/servers.js";

export const SHARED = "cluster-test-secret";
export const PASSWORD = "component-secret";

export interface ClusterNode {
  readonly name: string;
  readonly ip: string;
  readonly s2sPort: number;
  readonly servicePort: number;
  readonly server: S2sServer;
  cluster(): Cluster;
}

export function clusterSection(redisUrl: string, node: string, leaseSeconds = 2): Record<string, unknown> {
  return { backend: "redis", redis_url: redisUrl, node, lease_seconds: leaseSeconds };
}

export interface NodeSpec {
  readonly name: string;
  readonly ip: string;
  readonly redisUrl: string;
  /** Where b.example is (s2s.address entries). */
  readonly address?: unknown[];
  readonly leaseSeconds?: number;
  /** Receives the node's JSON log lines at info level (default: silent). */
  readonly logLines?: string[];
  /** `[admin] socket` (default: none). */
  readonly adminSocket?: string;
}

export async function startClusterNode(spec: NodeSpec): Promise<ClusterNode> {
  const ports = await reservePorts(spec.ip);
  const config = configFromObject(
    {
      general: { hosts: ["a.example"] },
      listen: {
        s2s: [{ port: ports.s2sPort, ip_address: spec.ip }],
        service: [{ port: ports.servicePort, ip_address: spec.ip, password: PASSWORD }],
      },
      s2s: { use_starttls: "false", shared: SHARED, ...(spec.address ? { address: spec.address } : {}) },
      cluster: clusterSection(spec.redisUrl, spec.name, spec.leaseSeconds),
      ...(spec.adminSocket ? { admin: { socket: spec.adminSocket } } : {}),
    },
    { baseDir: process.cwd() },
  );
  const logger = spec.logLines
    ? createLogger("info", { write: (line: string) => void spec.logLines!.push(line) })
    : createLogger((process.env.S2S_TEST_LOG as "debug" | undefined) ?? "silent");
  const server = createServer(config, { logger });
  await server.start();
  return { name: spec.name, ip: spec.ip, s2sPort: ports.s2sPort, servicePort: ports.servicePort, server, cluster: () => server.container.resolve(CLUSTER) };
}
