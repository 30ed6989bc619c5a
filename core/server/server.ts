import "../cjs/reflect-metadata.js";
import type { DependencyContainer } from "tsyringe";
import { container as rootContainer } from "../cjs/tsyringe.js";
import type { Observable } from "rxjs";
import { systemClock, type Clock } from "../clock/clock.js";
import type { S2sConfig } from "../config/types.js";
import { EventBus, type S2sEvent } from "../events/events.js";
import { createLogger, type Logger } from "../logging/logger.js";
import type { LoadedPlugins } from "../plugins/loader.js";
import type { XmlElement } from "../xml/element.js";
import { StanzaTap } from "./events-tap.js";
import { ensureConfig, type ConfigInput } from "./config-input.js";
import { applyReload, type ReloadReport } from "./reload.js";
import { loadConfigFileReportingAll } from "../check-config.js";
import { isConfigError } from "../errors.js";
import type { Registry } from "prom-client";
import { Operations } from "./operations.js";
import { probeFederation, type ProbeReport } from "../probe/probe.js";
import { compose, type CompositionBase, type CoreComposition } from "./compose.js";

export interface CreateServerOptions {
  /** A pino logger; default: JSON lines on stdout at `logLevel`. */
  readonly logger?: Logger;
  readonly logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Time source (virtual time in tests). */
  readonly clock?: Clock;
  /** Parent container whose registrations this server inherits (default: tsyringe's root); reload composes from it too. */
  readonly parent?: DependencyContainer;
  /** Open `[[listen.http]]` and `[admin]` (default true; `xmpp-s2s probe`'s temporary server does not). */
  readonly operations?: boolean;
}

/** The embedding API (architecture.md §5). */
export interface S2sServer {
  readonly config: S2sConfig;
  /** This server's own child container (one per instance: several servers run in one process). */
  readonly container: DependencyContainer;
  readonly events$: Observable<S2sEvent>;
  /** Stanzas for local addresses that no delivery plugin serves; subscribing takes ownership of them. */
  readonly stanzas$: Observable<XmlElement>;
  /** Loads plugins, wires the core and opens every listener. Rejects with a ConfigError on plugin problems. */
  start(): Promise<void>;
  /**
   * Closes streams with `system-shutdown`, aborts outbound attempts still resolving, connecting or
   * negotiating (and their DNS queries), bounces queued stanzas, stops listeners and services.
   * When it resolves the server holds no socket or timer that keeps the process alive.
   */
  stop(): Promise<void>;
  /**
   * Route a stanza from a local sender (its `from` must be in a local domain). Fire and forget:
   * it returns once the router has taken the stanza, which then ends either delivered or bounced
   * to its sender with a stanza error (RFC 6120 §8.3), never dropped. S2S has no delivery receipt,
   * so a promise could only mean "written to a socket"; wait for the answer (or bounce) instead,
   * e.g. on `stanzas$`. After `stop()` has begun, stanzas bounce with "server is shutting down".
   */
  send(stanza: XmlElement): void;
  /** Bound S2S listener addresses, in config order (useful with port 0). */
  s2sAddresses(): Array<{ address: string; port: number }>;
  readonly plugins?: LoadedPlugins;
  /**
   * Apply a new configuration without restarting (docs/operations.md, "Reload"): policies at once (established
   * sessions now denied are closed), certificate files re-read. Without an argument the config
   * file is read again. An invalid config throws a ConfigError and the running config stays.
   */
  reload(input?: ConfigInput): Promise<ReloadReport>;
  /** This server's own Prometheus registry when `[instrumentation.prometheus]` is on (docs/operations.md). */
  readonly metrics?: Registry;
  /** Bound `[[listen.http]]` addresses, in config order. */
  httpAddresses(): Array<{ address: string; port: number }>;
  /**
   * Test federation to `domain` (docs/operations.md): one outbound negotiation from `from` (default the first
   * host) through this server's own code, then a XEP-0199 ping; each step with its timing.
   */
  probe(domain: string, from?: string, timeoutMs?: number): Promise<ProbeReport>;
}

/** Long enough for DNS, every connect target and a full negotiation with the default settings. */
export const DEFAULT_PROBE_TIMEOUT_MS = 45_000;

export function createServer(input: ConfigInput, options: CreateServerOptions = {}): S2sServer {
  let config = ensureConfig(input);
  const parent = options.parent ?? rootContainer;
  const child = parent.createChildContainer();
  const logger = options.logger ?? createLogger(options.logLevel ?? "info");
  const clock = options.clock ?? systemClock;
  const events = new EventBus();
  const tap = new StanzaTap();
  /** What every composition of this server starts from (start, and reload's scratch copy). */
  const base = (next: S2sConfig): Omit<CompositionBase, "into"> => ({ config: next, logger, clock, events, parent });

  let core: CoreComposition | undefined;
  let started = false;
  let operations: Operations | undefined;

  const server: S2sServer = {
    get config() {
      return config;
    },
    container: child,
    events$: events.events$,
    stanzas$: tap.stanzas$,
    get plugins() {
      return core?.plugins;
    },
    get metrics() {
      return operations?.metrics?.registry;
    },
    async start() {
      if (started) return;
      started = true;
      try {
        core = await compose({ ...base(config), into: child }, "server", { unserved: (stanza) => tap.offer(stanza), embedder: tap });
      } catch (err) {
        started = false;
        throw err;
      }
      try {
        // Metrics subscribe to events$ before any listener opens; the admin socket opens last.
        operations = await Operations.create(options.operations === false ? { ...config, listen: { ...config.listen, http: [] }, admin: undefined } : config, core, clock, logger, clock.now(), (domain, from) => this.probe(domain, from));
        for (const service of core.services) await service.start();
        await core.listeners.start();
        await operations.start();
      } catch (err) {
        await this.stop();
        throw err;
      }
      logger.info({ what: "started", hosts: config.general.hosts, plugins: core.plugins.names });
    },
    async stop() {
      if (!started) return;
      started = false;
      // RFC 6120 §4.9.3.17: system-shutdown tells peers this is deliberate.
      await operations?.stop();
      if (core) {
        await core.listeners.stop("system-shutdown");
        // Outbound sessions before services: their queued stanzas bounce to local senders (components)
        // that are still connected to receive the errors.
        await core.outbound.stop("system-shutdown");
        for (const service of [...core.services].reverse()) await service.stop("system-shutdown").catch((err: unknown) => logger.error({ what: "service_stop_failed", service: service.name, err }));
        await core.policyChain.close();
        await core.cluster?.stop();
      }
      logger.info({ what: "stopped" });
      tap.complete();
      events.complete();
    },
    send(stanza: XmlElement) {
      if (!started || !core) throw new Error("server not started");
      core.router.route(stanza);
    },
    s2sAddresses() {
      return core?.listeners.addresses() ?? [];
    },
    httpAddresses() {
      return operations?.httpAddresses() ?? [];
    },
    probe(domain: string, from = config.general.hosts[0]!, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS) {
      if (!started || !core) return Promise.reject(new Error("server not started"));
      const { router, outbound } = core;
      return probeFederation(
        {
          config,
          events$: events.events$,
          stanzas$: tap.stanzas$,
          send: (stanza) => router.route(stanza),
          outbound,
          tls: core.tls,
          // While the probe listens, unserved local stanzas come to it: answer them as the router would,
          // unless the embedder listens too (then they are the embedder's).
          bounce: (stanza) => {
            if (tap.subscribers <= 1) router.bounce(stanza, "service-unavailable", "cancel");
          },
        },
        domain,
        from,
        timeoutMs,
      );
    },
    async reload(next?: ConfigInput) {
      if (!started || !core) throw new Error("server not started");
      let nextConfig: S2sConfig;
      try {
        if (next !== undefined) nextConfig = ensureConfig(next);
        // Every problem of the file at once, its plugins' included (as check-config and start).
        else if (config.file) nextConfig = await loadConfigFileReportingAll(config.file);
        else throw new Error("reload(): no config file to read again; pass the new config");
        // The new config's plugins are loaded by the same composition as start's, from the same parent.
        const report = await applyReload(core, config, nextConfig, (c) => compose(base(c), "plugins"));
        config = nextConfig;
        return report;
      } catch (err) {
        const problems = isConfigError(err) ? err.problems : [(err as Error).message];
        logger.error({ what: "reload_failed", problems }, "reload refused: the running configuration stays");
        throw err;
      }
    },
  };
  return server;
}
