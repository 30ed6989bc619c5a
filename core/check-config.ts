import "reflect-metadata";
import { container } from "tsyringe";
import { loadConfigFile } from "./config/load.js";
import type { S2sConfig } from "./config/types.js";
import { createLogger } from "./logging/logger.js";
import { loadPlugins } from "./plugins/loader.js";
import { CONFIG, POLICY } from "./tokens.js";
import type { Policy } from "./policy/policy.js";

/**
 * Everything `start` validates, without opening a socket: the TOML file and the plugins it names
 * (their options and declarations). Throws ConfigError with every problem.
 */
export async function checkConfigFile(path: string): Promise<S2sConfig> {
  const config = loadConfigFile(path);
  const scratch = container.createChildContainer();
  scratch.register(CONFIG, { useValue: config });
  await loadPlugins(scratch, config, createLogger("silent"));
  // Policies may start watchers when built; this scratch copy is thrown away, so release them.
  let policies: Policy[] = [];
  try {
    policies = scratch.isRegistered(POLICY, true) ? scratch.resolveAll(POLICY) : [];
  } catch {
    // A policy built from services this scratch container lacks was never started either.
  }
  for (const policy of policies) await policy.close?.();
  return config;
}
