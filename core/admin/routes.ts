import type { S2sConfig } from "../config/types.js";
import type { TrafficCounters } from "../metrics/traffic.js";
import { domainOf } from "../router/stanza.js";
import type { S2sListeners } from "../server/s2s-listeners.js";
import type { OutboundSessions } from "../session/outbound-sessions.js";
import type { TlsProvider } from "../tls/tls.js";
import { AdminRequestError, type AdminRoute } from "./admin-server.js";
import { sessionRows } from "./inspect.js";
import { withCluster } from "./cluster-view.js";
import type { ClusterSnapshot } from "../cluster/cluster.js";
import type { ProbeReport } from "../probe/probe.js";

export interface AdminContext {
  readonly config: S2sConfig;
  readonly outbound: OutboundSessions;
  readonly listeners: S2sListeners;
  readonly tls: TlsProvider;
  readonly traffic: TrafficCounters;
  readonly now: () => number;
  /** When the server started (clock time). */
  readonly started: number;
  readonly httpAddresses: () => Array<{ address: string; port: number }>;
  /** "Test federation to X": the same report as `xmpp-s2s probe`, from the running server. */
  readonly probe: (domain: string, from: string) => Promise<ProbeReport>;
  /** Cluster mode (docs/cluster.md): who owns what; absent on a single node. */
  readonly cluster?: () => ClusterSnapshot;
}

/** A domain parameter, normalised as everywhere else (lower case, IDNA); a clear 400 otherwise. */
function domainParam(params: URLSearchParams, name: string): string {
  const raw = params.get(name);
  const domain = raw === null ? undefined : domainOf(raw);
  if (!domain || raw!.includes("@") || raw!.includes("/")) throw new AdminRequestError(400, `${name}: expected a domain name such as "b.example" (got ${JSON.stringify(raw)})`);
  return domain;
}

/** `from`: a local host of this server, default the first of `general.hosts`. */
function localParam(ctx: AdminContext, params: URLSearchParams): string {
  const hosts = ctx.config.general.hosts;
  if (!params.has("from")) return hosts[0]!;
  const local = domainParam(params, "from");
  if (!hosts.includes(local)) throw new AdminRequestError(400, `from: ${local} is not one of this server's hosts (${hosts.join(", ")})`);
  return local;
}

/** The `cluster` part of GET /status (undefined, so absent, on a single node). */
function clusterStatus(c: ClusterSnapshot | undefined) {
  return c && { node: c.node, nodes: c.nodes, connected: c.connected, forwarded: c.forwarded, received: c.received };
}

/** The admin operations (docs/operations.md "Admin API"). */
export function adminRoutes(ctx: AdminContext): Record<string, AdminRoute> {
  const inspect = { outbound: ctx.outbound, listeners: ctx.listeners, tls: ctx.tls, now: ctx.now };
  return {
    "GET /status": () => {
      const rows = sessionRows(inspect);
      const established = (direction: string) => rows.filter((r) => r.direction === direction && r.state === "established").length;
      return {
        pid: process.pid,
        node: process.version,
        config: ctx.config.file ?? null,
        hosts: ctx.config.general.hosts,
        uptimeSeconds: Math.round((ctx.now() - ctx.started) / 1000),
        listeners: { s2s: ctx.listeners.addresses(), http: ctx.httpAddresses() },
        sessions: { inbound: established("inbound"), outbound: established("outbound"), negotiating: rows.filter((r) => r.state === "negotiating" || r.state === "connecting").length },
        stanzas: { inbound: ctx.traffic.stanzasIn, outbound: ctx.traffic.stanzasOut },
        queued: rows.reduce((n, r) => n + r.queued, 0),
        backoffRemotes: [...new Set(rows.filter((r) => r.backoff?.waiting).map((r) => r.remote))],
        cluster: clusterStatus(ctx.cluster?.()),
      };
    },
    "GET /sessions": () => {
      const rows = sessionRows(inspect);
      return ctx.cluster ? withCluster(rows, ctx.cluster()) : rows;
    },
    "POST /close": async (params) => {
      const remote = domainParam(params, "remote");
      const outbound = ctx.outbound.list().filter((p) => p.remote === remote).length;
      await ctx.outbound.closeWhere((_local, r) => r === remote, "closed", "closed by the administrator");
      // An inbound stream may carry several remote domains (dialback multiplexing): it closes whole.
      let inbound = 0;
      for (const stream of [...ctx.listeners.streams]) {
        if (stream.pairs.some((p) => p.remote === remote) || (stream.pairs.length === 0 && stream.headerFrom === remote)) {
          stream.close();
          inbound++;
        }
      }
      if (outbound + inbound === 0) throw new AdminRequestError(404, `no session with ${remote}`);
      return { remote, closed: { outbound, inbound } };
    },
    "POST /probe": (params) => ctx.probe(domainParam(params, "remote"), localParam(ctx, params)),
    "POST /retry": (params) => {
      const remote = domainParam(params, "remote");
      const locals = ctx.outbound.retryNow(remote, localParam(ctx, params));
      return { remote, connecting: locals };
    },
  };
}
