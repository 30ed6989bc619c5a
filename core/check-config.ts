import "reflect-metadata";
import { container } from "tsyringe";
import { loadConfigFile } from "./config/load.js";
import type { S2sConfig } from "./config/types.js";
import { createLogger } from "./logging/logger.js";
import { loadPlugins } from "./plugins/loader.js";
import { CONFIG } from "./tokens.js";

/**
 * Everything `start` validates, without opening a socket: the TOML file and the plugins it names
 * (their options and declarations). Throws ConfigError with every problem.
 */
export async function checkConfigFile(path: string): Promise<S2sConfig> {
  const config = loadConfigFile(path);
  const scratch = container.createChildContainer();
  scratch.register(CONFIG, { useValue: config });
  await loadPlugins(scratch, config, createLogger("silent"));
  return config;
}
