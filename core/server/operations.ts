/**
 * The operator's side of a server (issue 12): Prometheus metrics (`[instrumentation.prometheus]`),
 * the `[[listen.http]]` listeners that serve them, and the `[admin]` socket. Each is off unless
 * its section is present. Wired by server.ts after the core and before any listener opens, so the
 * metrics see every event.
 */
import type { DependencyContainer } from "tsyringe";
import { AdminServer } from "../admin/admin-server.js";
import { adminRoutes } from "../admin/routes.js";
import { CLOCK } from "../clock/clock.js";
import { CLUSTER } from "../cluster/cluster.js";
import type { S2sConfig } from "../config/types.js";
import { EVENTS } from "../events/events.js";
import { HttpListeners } from "../http/http-listeners.js";
import type { Logger } from "../logging/logger.js";
import { S2sMetrics } from "../metrics/metrics.js";
import { StreamDeps } from "../session/deps.js";
import { OUTBOUND_SESSIONS } from "../session/outbound-sessions.js";
import { TLS_PROVIDER } from "../tls/tls.js";
import { S2sListeners } from "./s2s-listeners.js";
import type { ProbeReport } from "../probe/probe.js";

export class Operations {
  readonly metrics?: S2sMetrics;
  readonly #http: HttpListeners;
  readonly #admin?: AdminServer;

  constructor(config: S2sConfig, container: DependencyContainer, logger: Logger, started: number, probe: (domain: string, from: string) => Promise<ProbeReport>) {
    const outbound = container.resolve(OUTBOUND_SESSIONS);
    const listeners = container.resolve(S2sListeners);
    const deps = container.resolve(StreamDeps);
    if (config.instrumentation.prometheus) {
      this.metrics = new S2sMetrics(container.resolve(EVENTS).events$, {
        traffic: deps.traffic,
        outbound: () => outbound.list(),
        inbound: () => [...listeners.streams].map((s) => ({ authenticated: s.pairs.length > 0 })),
      });
    }
    const metrics = this.metrics;
    this.#http = new HttpListeners(config.listen.http, metrics && (() => metrics.text()), logger);
    if (config.admin) {
      const clock = container.resolve(CLOCK);
      const cluster = container.isRegistered(CLUSTER, true) ? container.resolve(CLUSTER) : undefined;
      const routes = adminRoutes({ config, outbound, listeners, tls: container.resolve(TLS_PROVIDER), traffic: deps.traffic, now: () => clock.now(), started, httpAddresses: () => this.#http.addresses(), probe, cluster: cluster && (() => cluster.snapshot()) });
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
