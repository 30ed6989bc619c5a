/**
 * The operator's side of a server (docs/operations.md): Prometheus metrics (`[instrumentation.prometheus]`),
 * the `[[listen.http]]` listeners that serve them, and the `[admin]` socket. Each is off unless
 * its section is present. Wired by server.ts after the core and before any listener opens, so the
 * metrics see every event.
 */
import { AdminServer } from "../admin/admin-server.js";
import { adminRoutes } from "../admin/routes.js";
import type { Clock } from "../clock/clock.js";
import { CLUSTER } from "../cluster/cluster.js";
import { EVENTS } from "../events/events.js";
import type { S2sConfig } from "../config/types.js";
import { HttpListeners } from "../http/http-listeners.js";
import type { Logger } from "../logging/logger.js";
import { S2sMetrics } from "../metrics/metrics.js";
import type { CoreComposition } from "./compose.js";
import type { ProbeReport } from "../probe/probe.js";

export class Operations {
  readonly metrics?: S2sMetrics;
  readonly #http: HttpListeners;
  readonly #admin?: AdminServer;

  constructor(config: S2sConfig, core: CoreComposition, clock: Clock, logger: Logger, started: number, probe: (domain: string, from: string) => Promise<ProbeReport>) {
    const { outbound, listeners, traffic, tls } = core;
    if (config.instrumentation.prometheus) {
      this.metrics = new S2sMetrics(core.container.resolve(EVENTS).events$, {
        traffic,
        outbound: () => outbound.list(),
        inbound: () => [...listeners.streams].map((s) => ({ authenticated: s.pairs.length > 0 })),
      });
    }
    const metrics = this.metrics;
    this.#http = new HttpListeners(config.listen.http, metrics && (() => metrics.text()), logger);
    if (config.admin) {
      const cluster = core.container.isRegistered(CLUSTER, true) ? core.container.resolve(CLUSTER) : undefined;
      const routes = adminRoutes({ config, outbound, listeners, tls, traffic, now: () => clock.now(), started, httpAddresses: () => this.#http.addresses(), probe, cluster: cluster && (() => cluster.snapshot()) });
      this.#admin = new AdminServer(config.admin, routes, logger);
    }
  }

  httpAddresses(): Array<{ address: string; port: number }> {
    return this.#http.addresses();
  }

  async start(): Promise<void> {
    await this.#http.start();
    await this.#admin?.start();
  }

  async stop(): Promise<void> {
    await this.#admin?.stop();
    await this.#http.stop();
    this.metrics?.close();
  }
}
