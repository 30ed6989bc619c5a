import "reflect-metadata";
import assert from "node:assert/strict";
import { configFromObject } from "../../core/config/load.js";
import type { S2sConfig } from "../../core/config/types.js";
import { EventBus } from "../../core/events/events.js";
import { createLogger } from "../../core/logging/logger.js";
import type { LoadedPlugins } from "../../core/plugins/loader.js";
import { systemClock } from "../../core/clock/clock.js";
import { compose } from "../../core/server/compose.js";
import type { Router } from "../../core/router/router.js";
import type { XmlElement } from "../../core/xml/element.js";

/** Load the plugins of `config` in a throwaway container, by the composition every server uses (as reload does). */
/** A config serving a.example and b.example, with an optional `[plugins]` table (plugin unit tests). */
export function twoHostConfig(plugins?: Record<string, unknown>): S2sConfig {
  return configFromObject({ general: { hosts: ["a.example", "b.example"] }, ...(plugins ? { plugins } : {}) }, { baseDir: process.cwd() });
}

export async function loadPluginsFor(config: S2sConfig): Promise<LoadedPlugins> {
  return (await compose({ config, logger: createLogger("silent"), clock: systemClock, events: new EventBus() }, "plugins")).plugins;
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
