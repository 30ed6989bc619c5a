import { performance } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Observable, Subscription } from "rxjs";
import type { S2sEvent } from "../events/events.js";
import type { OutboundPairView } from "../session/outbound-sessions.js";
import type { TrafficCounters } from "./traffic.js";

/** What the collectors read at scrape time: the server's own state, never a copy kept up to date. */
export interface MetricSources {
  readonly traffic: TrafficCounters;
  readonly outbound: () => readonly OutboundPairView[];
  /** Inbound streams: authenticated (at least one pair) or still negotiating. */
  readonly inbound: () => Iterable<{ readonly authenticated: boolean }>;
}

/** Seconds; DNS answers come in milliseconds, connections in up to `negotiation_timeout`. */
const DNS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CONNECT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/**
 * Sampling interval of `nodejs_eventloop_lag_*` (perf_hooks.monitorEventLoopDelay), ms.
 * prom-client's default, 10 ms, is a timer that wakes the process 100 times a second: an idle
 * server with metrics on used 4.5 ms of CPU per second on this project's bench VM (0.5-0.7 ms at
 * 100 ms: the `idle cost` line of `npm run bench -- --metrics-cost`), ~2 % of a server's CPU under
 * the bench's load (each server at ~0.2 CPU s/s). At 100 ms a block of the event loop longer than
 * 100 ms is still seen by every sample, and a scrape every 15 s still gets 150 samples.
 */
export const EVENT_LOOP_SAMPLING_MS = 100;

/**
 * The Prometheus metrics of one server instance (docs/operations.md), in its own Registry so that several
 * servers in one process (tests, embedders) never share or clash. Labels never carry domain names:
 * a federating server talks to an unbounded set of remotes (cardinality); the admin API has the
 * per-domain detail. Event-driven counters and histograms follow `events$`; gauges and the stanza
 * counters are read from the server's state when scraped, so the stanza path only pays a plain
 * increment (core/metrics/traffic.ts).
 */
export class S2sMetrics {
  readonly registry = new Registry();
  readonly #subscription: Subscription;
  /** "local remote" -> when its connection attempt started (performance.now()). */
  readonly #connecting = new Map<string, number>();

  constructor(events$: Observable<S2sEvent>, sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLING_MS });

    new Gauge({
      name: "xmpp_s2s_connections",
      help: "S2S streams by direction (inbound, outbound) and state (inbound: negotiating, established; outbound: connecting, established)",
      labelNames: ["direction", "state"] as const,
      registers,
      collect() {
        this.reset();
        let negotiating = 0;
        let inboundUp = 0;
        for (const s of sources.inbound()) s.authenticated ? inboundUp++ : negotiating++;
        let connecting = 0;
        let outboundUp = 0;
        for (const p of sources.outbound()) {
          if (p.state === "connecting") connecting++;
          else if (p.state === "established") outboundUp++;
        }
        this.set({ direction: "inbound", state: "negotiating" }, negotiating);
        this.set({ direction: "inbound", state: "established" }, inboundUp);
        this.set({ direction: "outbound", state: "connecting" }, connecting);
        this.set({ direction: "outbound", state: "established" }, outboundUp);
      },
    });
    new Counter({
      name: "xmpp_s2s_stanzas_total",
      help: "Stanzas received from (inbound) and written to (outbound) remote servers",
      labelNames: ["direction"] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ direction: "inbound" }, sources.traffic.stanzasIn);
        this.inc({ direction: "outbound" }, sources.traffic.stanzasOut);
      },
    });
    new Gauge({
      name: "xmpp_s2s_queued_stanzas",
      help: "Stanzas waiting in outbound queues for their stream to be established",
      registers,
      collect() {
        this.set(sources.outbound().reduce((n, p) => n + p.queued, 0));
      },
    });
    new Gauge({
      name: "xmpp_s2s_backoff_remotes",
      help: "Remote domains waiting to retry after failed connection attempts",
      registers,
      collect() {
        this.set(new Set(sources.outbound().filter((p) => p.backoff.waiting).map((p) => p.remote)).size);
      },
    });

    const bounces = new Counter({ name: "xmpp_s2s_bounces_total", help: "Stanzas bounced to their sender, by stanza error condition", labelNames: ["condition"] as const, registers });
    const auth = new Counter({
      name: "xmpp_s2s_auth_total",
      help: "Stream authentications by method (dialback, sasl-external) and result (ok, denied by our policy, failed)",
      labelNames: ["direction", "method", "result"] as const,
      registers,
    });
    const tls = new Counter({ name: "xmpp_s2s_tls_handshakes_total", help: "TLS handshakes by direction and result (ok, failed)", labelNames: ["direction", "result"] as const, registers });
    const dns = new Histogram({ name: "xmpp_s2s_dns_lookup_seconds", help: "Time to resolve a remote domain to connect targets (SRV and A/AAAA, or address override)", buckets: DNS_BUCKETS, registers });
    const connect = new Histogram({
      name: "xmpp_s2s_connect_seconds",
      help: "Time from the start of an outbound connection attempt to an established (authenticated) stream",
      buckets: CONNECT_BUCKETS,
      registers,
    });

    this.#subscription = events$.subscribe((e) => {
      switch (e.type) {
        case "stanza_bounced":
          bounces.inc({ condition: e.condition });
          break;
        case "authenticated":
          auth.inc({ direction: e.direction, method: e.method, result: "ok" });
          break;
        case "auth_failed":
          auth.inc({ direction: e.direction, method: e.method, result: e.denied ? "denied" : "failed" });
          break;
        case "tls_up":
          tls.inc({ direction: e.direction, result: "ok" });
          break;
        case "tls_failed":
          tls.inc({ direction: e.direction, result: "failed" });
          break;
        case "resolve_done":
          dns.observe(e.durationMs / 1000);
          break;
        case "connecting":
          this.#connecting.set(`${e.local} ${e.remote}`, performance.now());
          break;
        case "established": {
          const key = `${e.local} ${e.remote}`;
          const started = this.#connecting.get(key);
          this.#connecting.delete(key);
          if (started !== undefined) connect.observe((performance.now() - started) / 1000);
          break;
        }
        case "failed":
          this.#connecting.delete(`${e.local} ${e.remote}`);
          break;
      }
    });
  }

  /** The text exposition format (what a scrape gets). */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  close(): void {
    this.#subscription.unsubscribe();
    this.#connecting.clear();
  }
}
