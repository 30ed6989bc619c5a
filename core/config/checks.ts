/**
 * Small, composable value checks for the config layer (validate up front, name the path). Every
 * check either returns the normalised value or records one problem line and returns undefined;
 * the caller never throws, so one pass collects every problem of a file.
 *
 * Problem lines have one shape: `dotted.path: what is wrong (got VALUE, expected SYNTAX)`, with
 * array items as `listen.s2s[0].port`. VALUE is printed TOML-like, since that is what the operator
 * wrote.
 */
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { didYouMean } from "./did-you-mean.js";

export interface CheckContext {
  /** Problem lines collected so far, in discovery order. */
  readonly problems: string[];
  /** Absolute folder that relative paths resolve against. */
  readonly baseDir: string;
  /**
   * Paths whose TOML value was a float with an integral value (`port = 5269.0`). TOML keeps
   * integers and floats apart and so does MongooseIM; JavaScript numbers cannot, so the TOML
   * front end records them here.
   */
  readonly floats: ReadonlySet<string>;
}

export type Table = Readonly<Record<string, unknown>>;
/** Returns the normalised value, or undefined after recording a problem. */
export type Check<T> = (ctx: CheckContext, path: string, value: unknown) => T | undefined;

// ---------------------------------------------------------------------------------------------
// Paths and value printing

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** `parent.key`, quoting keys TOML would need to quote. */
export function child(parent: string, key: string): string {
  const k = BARE_KEY.test(key) ? key : JSON.stringify(key);
  return parent === "" ? k : `${parent}.${k}`;
}

export function item(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/**
 * Text printed verbatim in the "got" part (for things that are not a config value, e.g. the names
 * in a certificate). Never shortened: it holds the facts an operator needs; whoever builds it
 * shortens its incidental parts (paths: `shortPath`).
 */
export class Verbatim {
  constructor(readonly text: string) {}
}

const MAX_SHOWN = 80;
const MAX_PATH = 48;

/**
 * A config value as TOML would spell it, shortened in the middle to keep problem lines on one
 * line: the end (a file name, the closing bracket) stays, so a long checkout path cannot push the
 * telling part out of the message.
 */
export function show(value: unknown): string {
  if (value instanceof Verbatim) return value.text;
  const text = showInner(value, 0);
  if (text.length <= MAX_SHOWN) return text;
  const tail = Math.floor((MAX_SHOWN - 1) / 2);
  return `${text.slice(0, MAX_SHOWN - 1 - tail)}…${text.slice(text.length - tail)}`;
}

/** A file path for a message: its last components whole, the leading folders cut when it is long. */
export function shortPath(path: string): string {
  if (path.length <= MAX_PATH) return path;
  const parts = path.split("/");
  let kept = parts.pop() ?? "";
  while (parts.length > 0 && kept.length + parts[parts.length - 1]!.length + 1 <= MAX_PATH - 2) kept = `${parts.pop()}/${kept}`;
  return `…/${kept}`;
}

function showInner(value: unknown, depth: number): string {
  if (value instanceof Verbatim) return value.text;
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      if (Number.isNaN(value)) return "nan";
      if (value === Infinity) return "inf";
      if (value === -Infinity) return "-inf";
      return String(value);
    case "bigint":
    case "boolean":
      return String(value);
    case "undefined":
      return "nothing";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  if (value === null) return "null";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid date" : value.toISOString();
  if (depth > 3) return "…";
  if (Array.isArray(value)) return `[${value.map((v) => showInner(v, depth + 1)).join(", ")}]`;
  if (isTable(value)) {
    const entries = Object.keys(value).map((k) => `${BARE_KEY.test(k) ? k : JSON.stringify(k)} = ${showInner(value[k], depth + 1)}`);
    return entries.length === 0 ? "{}" : `{${entries.join(", ")}}`;
  }
  return `a ${(value as object).constructor?.name ?? "object"}`;
}

/** A plain object (what a TOML table becomes), not an array, date or class instance. */
export function isTable(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === null || proto === Object.prototype;
}

// ---------------------------------------------------------------------------------------------
// Recording problems

/** Records `path: what (got VALUE, expected SYNTAX[; note])` and returns undefined. */
export function problem(ctx: CheckContext, path: string, what: string, got: unknown, expected: string, note?: string): undefined {
  ctx.problems.push(`${path}: ${what} (got ${show(got)}, expected ${expected}${note ? `; ${note}` : ""})`);
  return undefined;
}

/** Records `path: missing (expected SYNTAX)` and returns undefined. */
export function missing(ctx: CheckContext, path: string, expected: string): undefined {
  ctx.problems.push(`${path}: missing (expected ${expected})`);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Tables

export interface TableShape {
  /** Keys allowed directly in this table. */
  readonly keys: readonly string[];
  /**
   * What to list after "expected one of", and to suggest from. Defaults to `keys`. Lets `[s2s]`
   * list `outgoing.port` rather than `outgoing`, so `port` or `dns_timeout` get a useful hint.
   */
  readonly listed?: readonly string[];
  /** Extra explanation for keys that are known to be wrong here (other sections of MongooseIM). */
  readonly hints?: Readonly<Record<string, string>>;
}

/**
 * Checks that `value` is a table, reports each key that `shape` does not allow (with a "did you
 * mean"), and returns the allowed keys. Keys holding `undefined` (only possible from code, via
 * `configFromObject`) count as absent.
 */
export function table(ctx: CheckContext, path: string, value: unknown, shape: TableShape, expected: string): Table | undefined {
  if (!isTable(value)) return problem(ctx, path || "config", "not a table", value, expected);
  const allowed = new Set(shape.keys);
  const listed = shape.listed ?? shape.keys;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === undefined) continue;
    if (allowed.has(key)) {
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const guess = didYouMean(key, listed) ?? suffixGuess(key, listed);
    const hint = Object.hasOwn(shape.hints ?? {}, key) ? shape.hints![key] : undefined;
    const notes = [guess === undefined ? undefined : `did you mean "${guess}"?`, hint].filter((n) => n !== undefined).join("; ");
    problem(ctx, child(path, key), "unknown key", v, `one of ${listed.join(", ")}`, notes || undefined);
  }
  return out;
}

/** `port` in `[s2s]` most likely meant `outgoing.port`: match a listed dotted name by its last part. */
function suffixGuess(key: string, listed: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  return listed.find((name) => name.toLowerCase().endsWith(`.${lower}`));
}

/** `table[key]` through `check`, or undefined when absent (no problem) or invalid (problem recorded). */
export function field<T>(ctx: CheckContext, tbl: Table, path: string, key: string, check: Check<T>): T | undefined {
  if (!Object.hasOwn(tbl, key)) return undefined;
  return check(ctx, child(path, key), tbl[key]);
}

/** Like `field`, but records `missing` when absent. */
export function required<T>(ctx: CheckContext, tbl: Table, path: string, key: string, check: Check<T>, expected: string): T | undefined {
  if (!Object.hasOwn(tbl, key)) return missing(ctx, child(path, key), expected);
  return check(ctx, child(path, key), tbl[key]);
}

/**
 * Each item of an array through `check`, keeping positions (an invalid item is undefined), so that
 * later checks such as duplicates still run on the valid items and name the right index.
 * Undefined when the value is not an array (or is empty and `nonEmpty` is set).
 */
export function checkItems<T>(
  ctx: CheckContext,
  path: string,
  value: unknown,
  check: Check<T>,
  expected: string,
  opts: { nonEmpty?: boolean } = {},
): (T | undefined)[] | undefined {
  if (!Array.isArray(value)) return problem(ctx, path, "not an array", value, expected);
  if (opts.nonEmpty && value.length === 0) return problem(ctx, path, "empty", value, expected);
  return value.map((v, i) => check(ctx, item(path, i), v));
}

/** An array whose items each go through `check`; undefined if anything is wrong (all items are still checked). */
export function arrayOf<T>(check: Check<T>, expected: string, opts: { nonEmpty?: boolean } = {}): Check<T[]> {
  return (ctx, path, value) => {
    const items = checkItems(ctx, path, value, check, expected, opts);
    if (items === undefined) return undefined;
    return items.every((i) => i !== undefined) ? (items as T[]) : undefined;
  };
}

/**
 * Reports the second and later occurrences of the same key among `items` (already normalised),
 * at `pathOf(index)`. `what` names the thing ("host", "domain").
 */
export function reportDuplicates<T>(
  ctx: CheckContext,
  items: readonly (T | undefined)[],
  keyOf: (item: T) => string | number,
  pathOf: (index: number) => string,
  what: string,
): void {
  const firstAt = new Map<string | number, number>();
  items.forEach((it, i) => {
    if (it === undefined) return;
    const key = keyOf(it);
    const first = firstAt.get(key);
    if (first === undefined) firstAt.set(key, i);
    else problem(ctx, pathOf(i), `duplicate ${what}`, key, `each ${what} at most once`, `already at ${pathOf(first)}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Scalars

export const SYNTAX = {
  string: "a string",
  nonEmptyString: "a non-empty string",
  boolean: "true or false",
  positiveInteger: "a positive integer",
  nonNegativeInteger: "a non-negative integer",
  port: "an integer port number 1-65535",
  ip: 'an IPv4 or IPv6 address literal such as "127.0.0.1" or "::1"',
  domain: 'a domain name such as "a.example"',
  path: "a file path (relative paths start at the config file's folder)",
} as const;

export const string: Check<string> = (ctx, path, value) =>
  typeof value === "string" ? value : problem(ctx, path, "not a string", value, SYNTAX.string);

export const nonEmptyString: Check<string> = (ctx, path, value) => {
  if (typeof value !== "string") return problem(ctx, path, "not a string", value, SYNTAX.nonEmptyString);
  return value.length > 0 ? value : problem(ctx, path, "empty", value, SYNTAX.nonEmptyString);
};

export const boolean: Check<boolean> = (ctx, path, value) =>
  typeof value === "boolean" ? value : problem(ctx, path, "not a boolean", value, SYNTAX.boolean);

/** One of the listed strings (MongooseIM enums are TOML strings, even `"false"`). */
export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  return (ctx, path, value) => {
    if (typeof value === "string" && (values as readonly string[]).includes(value)) return value as T;
    if (typeof value === "boolean" && (values as readonly string[]).includes(String(value))) {
      return problem(ctx, path, "not a string", value, expected, `write it as a string: "${String(value)}"`);
    }
    const guess = typeof value === "string" ? didYouMean(value, values) : undefined;
    return problem(ctx, path, typeof value === "string" ? "unknown value" : "not a string", value, expected, guess && `did you mean "${guess}"?`);
  };
}

/**
 * A TOML integer within [min, max]. `what` is the noun for the problem line ("a port number").
 * Floats are refused even when integral (`5269.0`), as TOML and MongooseIM do.
 */
export function integer(min: number, max: number, expected: string, what = "an integer"): Check<number> {
  return (ctx, path, value) => {
    if (typeof value !== "number" || !Number.isInteger(value)) return problem(ctx, path, `not ${what}`, value, expected);
    if (ctx.floats.has(path)) return problem(ctx, path, `not ${what}`, new Verbatim(`${value}.0`), expected, "write it without a decimal point");
    if (value < min || value > max) return problem(ctx, path, "out of range", value, expected);
    return value;
  };
}

export const positiveInteger = integer(1, Number.MAX_SAFE_INTEGER, SYNTAX.positiveInteger, "a positive integer");
export const nonNegativeInteger = integer(0, Number.MAX_SAFE_INTEGER, SYNTAX.nonNegativeInteger, "a non-negative integer");
export const port = integer(1, 65535, SYNTAX.port, "a port number");

/**
 * `check`, or the string "infinity" mapped to Infinity (MongooseIM's spelling of "no limit").
 * `check` should already name both spellings in its expectation; `expected` is used for other strings.
 */
export function orInfinity(check: Check<number>, expected: string): Check<number> {
  return (ctx, path, value) => {
    if (value === "infinity") return Infinity;
    if (typeof value === "string") return problem(ctx, path, "unknown value", value, expected, didYouMeanInfinity(value));
    return check(ctx, path, value);
  };
}

function didYouMeanInfinity(value: string): string | undefined {
  return didYouMean(value, ["infinity"]) !== undefined || /^inf/i.test(value) ? 'did you mean "infinity"?' : undefined;
}

/**
 * Longest delay Node timers honour: `setTimeout` with more than 2^31-1 ms fires after 1 ms (with a
 * TimeoutOverflowWarning), which would turn a long timeout into an immediate one.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/**
 * A duration in positive seconds, returned in milliseconds. `integral` refuses fractions
 * (MongooseIM declares those options as integers); otherwise fractions are allowed and rounded up
 * to whole milliseconds. `infinity` also accepts the string "infinity" (-> Infinity).
 */
export function secondsToMs(opts: { integral: boolean; infinity: boolean }): Check<number> {
  const expected =
    (opts.integral ? "a positive integer number of seconds" : "a positive number of seconds (fractions allowed)") +
    `, at most ${MAX_TIMER_SECONDS}` +
    (opts.infinity ? ', or "infinity"' : "");
  const seconds: Check<number> = opts.integral
    ? integer(1, MAX_TIMER_SECONDS, expected, "an integer")
    : (ctx, path, value) => {
        if (typeof value !== "number" || !Number.isFinite(value)) return problem(ctx, path, "not a number", value, expected);
        if (value <= 0 || value > MAX_TIMER_SECONDS) return problem(ctx, path, "out of range", value, expected);
        return value;
      };
  const inMs: Check<number> = (ctx, path, value) => {
    const s = seconds(ctx, path, value);
    return s === undefined ? undefined : Math.ceil(s * 1000);
  };
  return opts.infinity ? orInfinity(inMs, expected) : inMs;
}

// ---------------------------------------------------------------------------------------------
// Network names

export const ipAddress: Check<string> = (ctx, path, value) => {
  if (typeof value !== "string") return problem(ctx, path, "not a string", value, SYNTAX.ip);
  return isIP(value) !== 0 ? value : problem(ctx, path, "not an IP address", value, SYNTAX.ip);
};

/** Canonical text of an IP literal, for comparing `::1` with `0:0::1`. */
export function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase(); // zone ids (fe80::1%eth0) are not URL syntax
  }
}

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** ASCII characters a domain name may contain before IDNA; anything else (`/`, `%`, `_`, spaces) is refused. */
const ASCII_OUTSIDE_DOMAIN = /[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/;

/**
 * Normalises a domain name as RFC 7622 §3.2 asks for XMPP domainparts: one trailing dot stripped,
 * IDNA to ASCII (UTS #46 via `url.domainToASCII`, which also lower-cases), then every label must
 * be letters, digits and inner hyphens, at most 63 octets, 253 in total. An IPv4 literal passes as
 * is; an IPv6 literal must be written in brackets (`[::1]`). Returns undefined when invalid.
 */
export function normaliseDomain(input: string): string | undefined {
  const bracketed = /^\[(.+)\]$/.exec(input);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? `[${canonicalIp(bracketed[1]!)}]` : undefined;
  const name = input.endsWith(".") ? input.slice(0, -1) : input;
  if (name.length === 0 || ASCII_OUTSIDE_DOMAIN.test(name)) return undefined;
  const ascii = domainToASCII(name);
  if (ascii.length === 0 || ascii.length > 253) return undefined;
  return ascii.split(".").every((label) => LDH_LABEL.test(label)) ? ascii : undefined;
}

export const domain: Check<string> = (ctx, path, value) => {
  if (typeof value !== "string") return problem(ctx, path, "not a string", value, SYNTAX.domain);
  return normaliseDomain(value) ?? problem(ctx, path, "not a valid domain name", value, SYNTAX.domain);
};

/** An array of tables, each through `entry`; item problems carry `path[i]`. Absent: `[]`. */
export function arrayOfTables<T>(
  ctx: CheckContext,
  path: string,
  value: unknown,
  shape: TableShape,
  expected: string,
  entry: (t: Table, p: string) => T | undefined,
): (T | undefined)[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problem(ctx, path, "not an array", value, expected);
    return [];
  }
  return value.map((v, i) => {
    const p = item(path, i);
    const t = table(ctx, p, v, shape, expected);
    return t === undefined ? undefined : entry(t, p);
  });
}

/** `parent[key]` as a table of `shape` (`outgoing.port = 1` and `[s2s.outgoing] port = 1` both arrive as one); `{}` when absent or not a table. */
export function subTable(ctx: CheckContext, parent: Table, parentPath: string, key: string, shape: TableShape): Table {
  const value = parent[key];
  if (value === undefined) return {};
  const example = `${key}.${shape.keys[0]} = ...`;
  return table(ctx, child(parentPath, key), value, shape, `a table with ${shape.keys.join(", ")} (write ${example})`) ?? {};
}
