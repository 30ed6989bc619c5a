/**
 * The admin `sessions` view in cluster mode (docs/cluster.md): every row says which node it was read on
 * (`node`) and, for outbound pairs and routes, which node owns the pair's stream or serves the
 * address (`owner`). Rows are added for pairs this node forwards to their owner (it has no stream
 * of its own for them) and for the routes it knows: components and embedding-API subscribers,
 * here or on other nodes. Built from `Cluster.snapshot()` on demand, like the rest of the view.
 */
import type { ClusterSnapshot } from "../cluster/cluster.js";
import type { SessionRow } from "./inspect.js";

const EMPTY = { auth: null, tls: null, ageSeconds: null, stanzasIn: null, stanzasOut: null, backoff: null } as const;

export function withCluster(rows: readonly SessionRow[], c: ClusterSnapshot): SessionRow[] {
  const node = c.node;
  const out: SessionRow[] = rows.map((r) => (r.direction === "outbound" ? { ...r, node, owner: c.pairs[`${r.local}|${r.remote}`]?.owner ?? null } : { ...r, node }));
  const streams = new Set(rows.filter((r) => r.direction === "outbound").map((r) => `${r.local}|${r.remote}`));
  for (const [key, pair] of Object.entries(c.pairs)) {
    if (streams.has(key) || pair.owner === node) continue;
    const [local = "", remote = ""] = key.split("|");
    // No stream here: stanzas go to the owner over Redis, or wait (`queued`) while it is found.
    out.push({ ...EMPTY, direction: "outbound", local, remote, state: pair.owner ? "forwarded" : "finding owner", queued: pair.held, node, owner: pair.owner });
  }
  const route = (domain: string, kind: string, owner: string): SessionRow => ({ ...EMPTY, direction: "route", local: domain, remote: "", state: kind, queued: 0, node, owner });
  for (const [domain, kind] of Object.entries(c.served)) out.push(route(domain, kind, node));
  for (const [domain, owner] of Object.entries(c.routes)) out.push(route(domain, "component", owner));
  for (const [domain, owners] of Object.entries(c.embedders)) for (const owner of owners) out.push(route(domain, "embedder", owner));
  return out;
}
