import "./cjs/reflect-metadata.js";
import { inspectConfigFile } from "./config/load.js";
import type { S2sConfig } from "./config/types.js";
import { createLogger } from "./logging/logger.js";
import { checkPlugins } from "./plugins/loader.js";
import { ConfigError } from "./errors.js";
import { systemClock } from "./clock/clock.js";
import { EventBus } from "./events/events.js";
import { compose } from "./server/compose.js";

/**
 * Everything `start` validates, without opening a socket: the TOML file and the plugins it names
 * (their options, declarations and what they resolve), composed exactly as `start` composes them,
 * but nothing started and no cluster backend contacted. Throws ConfigError with every problem.
 */
export async function checkConfigFile(path: string): Promise<S2sConfig> {
  const config = await loadConfigFileReportingAll(path);
  const { policies } = await compose({ config, logger: createLogger("silent"), clock: systemClock, events: new EventBus() }, "core");
  // Policies may start watchers when built; this copy is thrown away, so release them.
  for (const policy of policies) await policy.close?.();
  return config;
}

/**
 * `loadConfigFile`, except that a file with problems also has its `[plugins]` checked, so the
 * ConfigError lists the file's problems and its plugins' problems together (one run shows
 * everything, not one stage per run). A valid file is returned as is; its plugins are then loaded
 * (and fully checked, all at once) by `start()` or `checkConfigFile`.
 */
export async function loadConfigFileReportingAll(path: string): Promise<S2sConfig> {
  const { config, problems } = inspectConfigFile(path);
  if (problems.length === 0) return config;
  throw new ConfigError([...problems, ...(await checkPlugins(config))]);
}
