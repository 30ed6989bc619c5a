import type { S2sConfig } from "../config/types.js";
import { configFromObject, isValidatedConfig } from "../config/load.js";

/** `createServer` takes a validated config (from `loadConfigFile`/`parseConfig`) or a plain object shaped like the TOML. */
export type ConfigInput = S2sConfig | Readonly<Record<string, unknown>>;

export function ensureConfig(input: ConfigInput): S2sConfig {
  if (isValidatedConfig(input)) return input;
  return configFromObject(input, { baseDir: process.cwd() });
}
