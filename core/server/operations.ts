/**
 * The operator's side of a server (docs/operations.md): Prometheus metrics (`[instrumentation.prometheus]`),
 * the `[[listen.http]]` listeners that serve them, and the `[admin]` socket. Each is off unless
 * its section is present. Wired by server.ts after the core and before any listener opens, so the
 * metrics see every event.
 *
 * Each part's code (prom-client and its dependencies, node:http, the admin routes) is imported only
 * when its section is present: an idle server without them does not hold that code in memory
 * (docs/performance.md, "Memory").
 */
import type { AdminServer } from "../admin/admin-server.js";
import type { Clock } from "../clock/clock.js";
import { CLUSTER } from "../cluster/cluster.js";
import { EVENTS } from "../events/events.js";
import type { S2sConfig } from "../config/types.js";
import type { HttpListeners } from "../http/http-listeners.js";
import type { Logger } from "../logging/logger.js";
import type { S2sMetrics } from "../metrics/metrics.js";
import type { CoreComposition } from "./compose.js";
import type { ProbeReport } from "../probe/probe.js";

export class Operations {
  readonly metrics?: S2sMetrics;
  readonly #http?: HttpListeners;
  readonly #admin?: AdminServer;

  private constructor(metrics: S2sMetrics | undefined, http: HttpListeners | undefined, admin: AdminServer | undefined) {
    this.metrics = metrics;
    this.#http = http;
    this.#admin = admin;
  }

  static async create(config: S2sConfig, core: CoreComposition, clock: Clock, logger: Logger, started: number, probe: (domain: string, from: string) => Promise<ProbeReport>): Promise<Operations> {
    const { outbound, listeners, traffic, tls } = core;
    let metrics: S2sMetrics | undefined;
    if (config.instrumentation.prometheus) {
      const { S2sMetrics } = await import("../metrics/metrics.js");
      metrics = new S2sMetrics(core.container.resolve(EVENTS).events$, {
        traffic,
        outbound: () => outbound.list(),
        inbound: () => [...listeners.streams].map((s) => ({ authenticated: s.pairs.length > 0 })),
      });
    }
    let http: HttpListeners | undefined;
    if (config.listen.http.length > 0) {
      const { HttpListeners } = await import("../http/http-listeners.js");
      const registry = metrics;
      http = new HttpListeners(config.listen.http, registry && (() => registry.text()), logger);
    }
    let admin: AdminServer | undefined;
    if (config.admin) {
      const [{ AdminServer }, { adminRoutes }] = await Promise.all([import("../admin/admin-server.js"), import("../admin/routes.js")]);
      const cluster = core.container.isRegistered(CLUSTER, true) ? core.container.resolve(CLUSTER) : undefined;
      const routes = adminRoutes({ config, outbound, listeners, tls, traffic, now: () => clock.now(), started, httpAddresses: () => http?.addresses() ?? [], probe, cluster: cluster && (() => cluster.snapshot()) });
      admin = new AdminServer(config.admin, routes, logger);
    }
    return new Operations(metrics, http, admin);
  }

  httpAddresses(): Array<{ address: string; port: number }> {
    return this.#http?.addresses() ?? [];
  }

  async start(): Promise<void> {
    await this.#http?.start();
    await this.#admin?.start();
  }

  async stop(): Promise<void> {
    await this.#admin?.stop();
    await this.#http?.stop();
    this.metrics?.close();
  }
}
