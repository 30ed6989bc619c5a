import "reflect-metadata";
import assert from "node:assert/strict";
import { container as rootContainer } from "tsyringe";
import type { S2sConfig } from "../../core/config/types.js";
import { EventBus } from "../../core/events/events.js";
import { createLogger } from "../../core/logging/logger.js";
import { loadPlugins, type LoadedPlugins } from "../../core/plugins/loader.js";
import type { Router } from "../../core/router/router.js";
import { CONFIG, EVENTS } from "../../core/tokens.js";
import type { XmlElement } from "../../core/xml/element.js";

/** Run the plugin loader for `config` in a throwaway child container (as check-config does). */
export function loadPluginsFor(config: S2sConfig): Promise<LoadedPlugins> {
  const container = rootContainer.createChildContainer();
  container.register(CONFIG, { useValue: config });
  container.register(EVENTS, { useValue: new EventBus() });
  return loadPlugins(container, config, createLogger("silent"));
}

/** A Router for unit tests of local deliveries: records what is routed, fails on anything else. */
export class RecordingRouter implements Router {
  readonly routed: XmlElement[] = [];

  constructor(
    private readonly hosts: readonly string[],
    private readonly who: string,
  ) {}

  route(stanza: XmlElement): undefined {
    this.routed.push(stanza);
    return undefined;
  }
  deliverLocal(): undefined {
    assert.fail(`${this.who} answers through route(), never delivers locally itself`);
  }
  bounce(): void {
    assert.fail(`${this.who} never bounces: it leaves that to the router`);
  }
  isLocalDomain(domain: string): boolean {
    return this.hosts.includes(domain);
  }
}
