import "reflect-metadata";
import { container } from "tsyringe";
import { inspectConfigFile } from "./config/load.js";
import type { S2sConfig } from "./config/types.js";
import { createLogger } from "./logging/logger.js";
import { checkPlugins, loadPlugins } from "./plugins/loader.js";
import { ConfigError } from "./errors.js";
import { CONFIG, POLICY } from "./tokens.js";
import type { Policy } from "./policy/policy.js";

/**
 * Everything `start` validates, without opening a socket: the TOML file and the plugins it names
 * (their options and declarations). Throws ConfigError with every problem.
 */
export async function checkConfigFile(path: string): Promise<S2sConfig> {
  const config = await loadConfigFileReportingAll(path);
  const scratch = container.createChildContainer();
  scratch.register(CONFIG, { useValue: config });
  await loadPlugins(scratch, config, createLogger("silent"));
  // Policies may start watchers when built; this scratch copy is thrown away, so release them.
  let policies: Policy[] = [];
  try {
    policies = scratch.isRegistered(POLICY, true) ? scratch.resolveAll(POLICY) : [];
  } catch (err) {
    // A policy built from services this scratch container lacks (the router, the sessions) was
    // never started either. Any other failure is the policy's own, and must be reported.
    if (!/unregistered dependency token/.test((err as Error)?.message ?? "")) throw err;
  }
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
