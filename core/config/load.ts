/**
 * Public entry points of the config layer: a TOML file or text, or an object built in code
 * (`createServer(config)`), in; a validated, deeply frozen S2sConfig out, or one ConfigError
 * listing every problem (`dotted.path: what is wrong (got VALUE, expected SYNTAX)`).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { TomlDate, TomlError, parse } from "smol-toml";
import { ConfigError } from "../errors.js";
import { child, isTable, item, problem, type CheckContext } from "./checks.js";
import type { S2sConfig } from "./types.js";
import { validateConfig } from "./validate.js";

export interface ParseOptions {
  /** Name used in messages and stored (made absolute) as `config.file`. */
  readonly file?: string;
  /** Folder that relative paths in the config resolve against (normally the file's folder). */
  readonly baseDir: string;
}

/** Parses and validates TOML text. Throws ConfigError (syntax error, or every validation problem). */
export function parseConfig(tomlText: string, options: ParseOptions): S2sConfig {
  return build(parseToml(tomlText, options), options, true);
}

function parseToml(tomlText: string, options: ParseOptions): unknown {
  try {
    // Integers as BigInt keep TOML's integer/float distinction: `port = 5269.0` is a float, which
    // MongooseIM refuses where an integer is expected, and so do we.
    return parse(tomlText.replace(/^\uFEFF/, ""), { integersAsBigInt: true });
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = (err.message.split("\n")[0] ?? "").replace(/^Invalid TOML document:\s*/, "");
    throw new ConfigError([`${options.file ?? "config"}: TOML syntax error at line ${err.line}, column ${err.column}: ${reason}`]);
  }
}

/** Reads, parses and validates a TOML file; relative paths inside resolve against its folder. */
export function loadConfigFile(path: string): S2sConfig {
  const { text, options } = readConfigText(path);
  return parseConfig(text, options);
}

/**
 * For `check-config` and `start`: the file validated as far as it goes, with every problem, and
 * the config built with defaults where a value was wrong, so that the plugin loader can still
 * check `[plugins]` and one run reports everything. Throws only when the file cannot be read or
 * is not TOML. `config` is neither frozen nor vouched for by `isValidatedConfig` when there are
 * problems; never run a server on it.
 */
export function inspectConfigFile(path: string): { readonly config: S2sConfig; readonly problems: readonly string[] } {
  const { text, options } = readConfigText(path);
  const document = parseToml(text, options);
  const { config, problems } = validateDocument(document, options, true);
  return problems.length > 0 ? { config, problems } : { config: seal(config), problems };
}

function readConfigText(path: string): { text: string; options: ParseOptions } {
  const absolute = resolve(path);
  try {
    return { text: readFileSync(absolute, "utf8"), options: { file: path, baseDir: dirname(absolute) } };
  } catch (err) {
    throw new ConfigError([`${path}: cannot read file (${(err as Error).message})`]);
  }
}

/**
 * Validates a config given as an object with the TOML layout (keys as in the file, e.g.
 * `{ general: { hosts: ["a.example"] }, s2s: { outgoing: { port: 5269 } } }`). Keys set to
 * `undefined` count as absent. The caller's object is not modified or frozen.
 */
export function configFromObject(raw: unknown, options: ParseOptions): S2sConfig {
  return build(raw, options, false);
}

function build(document: unknown, options: ParseOptions, fromToml: boolean): S2sConfig {
  const { config, problems } = validateDocument(document, options, fromToml);
  if (problems.length > 0) throw new ConfigError(problems);
  return seal(config);
}

function validateDocument(document: unknown, options: ParseOptions, fromToml: boolean): { config: S2sConfig; problems: string[] } {
  const floats = new Set<string>();
  const ctx: CheckContext = { problems: [], baseDir: resolve(options.baseDir), floats };
  const plain = toPlainValues(ctx, "", document, fromToml ? floats : undefined, new Set());
  const config = validateConfig(plain, ctx, options.file === undefined ? {} : { file: resolve(options.file) });
  return { config, problems: ctx.problems };
}

/** Freezes a config without problems and records it as validated. */
function seal(config: S2sConfig): S2sConfig {
  const frozen = deepFreeze(config);
  validated.add(frozen);
  return frozen;
}

/** Configs this module produced: the only objects `isValidatedConfig` vouches for. */
const validated = new WeakSet<object>();

/**
 * True for a config returned by `parseConfig`, `loadConfigFile` or `configFromObject` (already
 * validated and frozen); false for anything else, such as a plain object with the TOML layout.
 */
export function isValidatedConfig(value: unknown): value is S2sConfig {
  return typeof value === "object" && value !== null && validated.has(value);
}

const TOML_VALUE = "a TOML value (string, number, boolean, date, array or table)";

/**
 * A fresh copy of the document with only TOML-representable values: BigInt integers become
 * numbers (with a problem when they do not fit exactly), tables become plain objects (keys such as
 * `__proto__` defined as own data properties, never as prototypes), dates are copied. Integral
 * floats of a TOML document are recorded in `floats` by path. Anything else (functions, class
 * instances, cycles) is a problem at its path.
 */
function toPlainValues(ctx: CheckContext, path: string, value: unknown, floats: Set<string> | undefined, seen: Set<object>): unknown {
  const here = path || "config";
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (floats !== undefined && Number.isInteger(value)) floats.add(path);
      return value;
    case "bigint":
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        return problem(ctx, here, "integer too large", value, `an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`);
      }
      return Number(value);
  }
  if (value instanceof TomlDate) return new TomlDate(value.toISOString());
  if (value instanceof Date) return new Date(value.getTime());
  if (typeof value === "object" && value !== null && (Array.isArray(value) || isTable(value))) {
    if (seen.has(value)) return problem(ctx, here, "circular reference", "…", TOML_VALUE);
    seen.add(value);
    let out: unknown;
    if (Array.isArray(value)) {
      out = value.map((v, i) =>
        v === undefined ? problem(ctx, item(path, i), "not a TOML value", v, TOML_VALUE) : toPlainValues(ctx, item(path, i), v, floats, seen),
      );
    } else {
      const table: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) continue;
        Object.defineProperty(table, key, {
          value: toPlainValues(ctx, child(path, key), v, floats, seen),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      out = table;
    }
    seen.delete(value);
    return out;
  }
  return problem(ctx, here, "not a TOML value", value, TOML_VALUE);
}

/** Freezes a value and everything reachable from it (objects, arrays, dates). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}
