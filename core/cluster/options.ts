/**
 * The `[cluster]` section (ours, not MongooseIM's; docs/cluster.md): several nodes serve the same domains
 * and share routes and outbound pair ownership through Redis. Absent means a single node.
 *
 *   [cluster]
 *   backend = "redis"
 *   redis_url = "redis://:password@10.0.0.5:6379/0"   # or rediss:// for TLS
 *   node = "node1"                                     # default: the host name
 *   lease_seconds = 10
 */
import { hostname } from "node:os";
import { field, integer, nonEmptyString, oneOf, problem, required, table, type CheckContext } from "../config/checks.js";

export interface ClusterConfig {
  readonly backend: "redis";
  /** redis:// or rediss:// URL, password and database included. */
  readonly redisUrl: string;
  /** This node's name, unique in the cluster. */
  readonly node: string;
  /** How long a node's routes and pair leases survive it (ms); renewed every third of it. */
  readonly leaseMs: number;
}

const CLUSTER_SHAPE = { keys: ["backend", "redis_url", "node", "lease_seconds"] };
const URL_EXPECTED = 'a redis:// or rediss:// URL, e.g. "redis://:password@10.0.0.5:6379"';
const LEASE_EXPECTED = "a whole number of seconds from 2 to 3600";
export const DEFAULT_LEASE_SECONDS = 10;

/** Validates `[cluster]`; `shared` is `s2s.shared`, which every node needs (same dialback keys). */
export function checkClusterSection(ctx: CheckContext, raw: unknown, shared: string | undefined): ClusterConfig | undefined {
  if (raw === undefined) return undefined;
  const t = table(ctx, "cluster", raw, CLUSTER_SHAPE, "a table ([cluster]) with backend, redis_url, node, lease_seconds");
  if (t === undefined) return undefined;
  const backend = required(ctx, t, "cluster", "backend", oneOf(["redis"] as const), '"redis"');
  const redisUrl = required(ctx, t, "cluster", "redis_url", redisUrlCheck, URL_EXPECTED);
  const node = field(ctx, t, "cluster", "node", nonEmptyString) ?? hostname();
  const leaseSeconds = field(ctx, t, "cluster", "lease_seconds", integer(2, 3600, LEASE_EXPECTED)) ?? DEFAULT_LEASE_SECONDS;
  // XEP-0185 §3: every node must compute the same dialback keys, so that a db:verify reaching any
  // node of the cluster is answered like the node that sent the key would answer it.
  if (shared === undefined) {
    ctx.problems.push("s2s.shared: missing (expected a secret common to every node: [cluster] needs it so that any node answers db:verify for the keys of another)");
  }
  if (backend === undefined || redisUrl === undefined) return undefined;
  return { backend, redisUrl, node, leaseMs: leaseSeconds * 1000 };
}

function redisUrlCheck(ctx: CheckContext, path: string, value: unknown): string | undefined {
  if (typeof value !== "string") return problem(ctx, path, "not a string", value, URL_EXPECTED);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(ctx, path, "not a URL", value, URL_EXPECTED);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") return problem(ctx, path, "unsupported scheme", value, URL_EXPECTED);
  if (!url.hostname) return problem(ctx, path, "no host", value, URL_EXPECTED);
  return value;
}

/** The URL without its password, for logs and error messages. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid URL)";
  }
}
