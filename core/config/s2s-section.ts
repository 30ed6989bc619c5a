/**
 * How `[s2s]` keys are owned. MongooseIM's `[s2s]` is one flat section, but most of its keys mean
 * something to one plugin only (`shared` to dialback, `certfile` to node_tls, `dns.timeout` to
 * dns): each such plugin checks its keys in its own `options.ts` and returns their normalised
 * values; the core checks the keys it reads itself and composes the results into `config.s2s`
 * (options are validated where they are owned, one place per option).
 *
 * Every built-in owner runs while the file is validated, enabled or not, so a file is accepted or
 * refused the same way whichever plugins it enables; a key whose readers are all disabled is then
 * a warning from the plugin loader (`unreadS2sKeys`).
 */
import { isTable, type CheckContext, type Table } from "./checks.js";
import type { S2sConfig, S2sListenerConfig, S2sSectionConfig } from "./types.js";

/** Where a `[[listen.s2s]]` `tls` table is (or would be), and the table as written, if it has one. */
export interface ListenerTls {
  readonly path: string;
  readonly table?: Table;
}

/** What an `[s2s]` owner's `validate` receives: the section as written and what it may be checked against. */
export interface S2sSection {
  /** Where problems go: record them with `problem`, `field`, `required` (never throw). */
  readonly ctx: CheckContext;
  /** `[s2s]` as written (`{}` when absent), unknown keys already reported. */
  readonly s2s: Table;
  /** `[s2s.outgoing]` as written (`{}` when absent), unknown keys already reported. */
  readonly outgoing: Table;
  /**
   * A key MongooseIM 6.4 moved from `[s2s]` into `[s2s.outgoing]` (`address`, `dns`,
   * `max_retry_delay`): the table that holds it in this file and that table's path. Setting it in
   * both places is reported here, once per call: call it once per key.
   */
  moved(key: string): { readonly table: Table; readonly path: string };
  /** `general.hosts`, normalised. */
  readonly hosts: readonly string[];
  /** `[[listen.s2s]]`, validated. */
  readonly listeners: readonly S2sListenerConfig[];
  /** The `tls` tables of `[[listen.s2s]]` (MongooseIM 6.4+ listener TLS), one per listener. */
  readonly listenerTls: readonly ListenerTls[];
}

/** Values an owner contributes to `config.s2s`: its own fields, `outgoing` and `dns` field by field. */
export type S2sValues = Partial<Omit<S2sSectionConfig, "outgoing" | "dns">> & {
  readonly outgoing?: Partial<S2sSectionConfig["outgoing"]>;
  readonly dns?: Partial<S2sSectionConfig["dns"]>;
};

/** A plugin's ownership of `[s2s]` keys, exported from its `options.ts`. */
export interface S2sOwner {
  /** The owning plugin's TOML name (`node_tls`), for the "not enabled" warning. */
  readonly plugin: string;
  /** `[s2s]` keys it owns, dotted as in the TOML (`outgoing.connection_timeout`, `dns.timeout`). */
  readonly keys: readonly string[];
  /** Checks the owned keys (problems into `section.ctx`) and returns their values, defaults applied. */
  validate(section: S2sSection): S2sChecked;
}

export interface S2sChecked {
  readonly values: S2sValues;
  /** Checks across sections (a certificate for each local host), run once every owner has read its keys. */
  readonly crossCheck?: () => void;
}

/**
 * `[s2s]` keys in the order of MongooseIM's documentation, which is the order their problems are
 * listed in whoever checks them (the 6.4+ TLS tables first: they decide how the rest reads).
 * A key MongooseIM 6.4 moved into `[s2s.outgoing]` keeps its place.
 */
const PROBLEM_ORDER = [
  "listen", "outgoing.tls", "default_policy", "host_policy", "use_starttls", "certfile", "keyfile", "domain_certfile", "shared", "address",
  "ciphers", "max_retry_delay", "outgoing.shaper", "outgoing.port", "outgoing.ip_versions", "outgoing.connection_timeout",
  "outgoing.max_stanza_size", "dns", "cacertfile",
];

function problemRank(line: string): number {
  const path = line.slice(0, line.indexOf(":"));
  const key = path.startsWith("listen.") ? "listen" : path.replace(/^s2s\./, "").replace(/^outgoing\.(address|dns|max_retry_delay)\b/, "$1");
  const rank = PROBLEM_ORDER.findIndex((k) => key === k || key.startsWith(`${k}.`) || key.startsWith(`${k}[`));
  return rank < 0 ? PROBLEM_ORDER.length : rank;
}

/** Sorts `problems` from index `from` on into documentation order (stable: one key's problems keep their order). */
export function orderS2sProblems(problems: string[], from: number): void {
  const tail = problems.splice(from).map((line, i) => ({ line, i, rank: problemRank(line) }));
  tail.sort((a, b) => a.rank - b.rank || a.i - b.i);
  problems.push(...tail.map((t) => t.line));
}

const REQUIRED = ["defaultPolicy", "hostPolicy", "useStarttls", "domainCertfile", "address", "ciphers", "maxRetryDelayMs"] as const;
const REQUIRED_OUTGOING = ["port", "ipVersions", "connectionTimeoutMs", "maxStanzaSize"] as const;
const REQUIRED_DNS = ["timeoutMs", "retries"] as const;

/**
 * `config.s2s` from the core's values and every owner's, field by field (`outgoing` and `dns` one
 * level deep). Each field with a default must come from someone: a field nobody gave is a bug in
 * the list of owners (s2s-owners.ts), reported as such rather than as an operator's problem.
 */
export function mergeS2sValues(parts: readonly S2sValues[]): S2sSectionConfig {
  let out: Record<string, unknown> = {};
  let outgoing: Record<string, unknown> = {};
  let dns: Record<string, unknown> = {};
  for (const part of parts) {
    out = { ...out, ...definedOnly(part) };
    outgoing = { ...outgoing, ...definedOnly(part.outgoing ?? {}) };
    dns = { ...dns, ...definedOnly(part.dns ?? {}) };
  }
  const absent = [
    ...REQUIRED.filter((k) => out[k] === undefined),
    ...REQUIRED_OUTGOING.filter((k) => outgoing[k] === undefined).map((k) => `outgoing.${k}`),
    ...REQUIRED_DNS.filter((k) => dns[k] === undefined).map((k) => `dns.${k}`),
  ];
  if (absent.length > 0) throw new Error(`no [s2s] owner gave ${absent.join(", ")} (core/config/s2s-owners.ts)`);
  return { ...out, outgoing, dns } as unknown as S2sSectionConfig;
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// Which keys a file sets, for the loader's "read by no enabled plugin" warning

/** Keys MongooseIM 6.4 moved into `[s2s.outgoing]`, named here by their classic `[s2s]` name. */
const MOVED_KEYS = new Set(["address", "dns", "max_retry_delay"]);
const keysSet = new WeakMap<S2sConfig, readonly string[]>();

/**
 * The `[s2s]` keys a section sets, dotted, in the names owners declare: `outgoing.port`,
 * `dns.timeout` (from `[s2s.dns]` or `[s2s.outgoing.dns]`), `address` (from either layout),
 * `outgoing.tls` for the whole 6.4 TLS table.
 */
export function s2sKeysOf(s2s: Table): string[] {
  const keys = new Set<string>();
  const add = (key: string, value: unknown, prefix: string) => {
    if (value === undefined) return;
    const name = `${prefix}${key}`;
    if (key === "dns" && isTable(value)) for (const k of Object.keys(value)) add(k, value[k], "dns.");
    else if (prefix === "" && key === "outgoing" && isTable(value)) for (const k of Object.keys(value)) add(k, value[k], MOVED_KEYS.has(k) ? "" : "outgoing.");
    else keys.add(name);
  };
  for (const key of Object.keys(s2s)) add(key, s2s[key], "");
  return [...keys];
}

/** Records the `[s2s]` keys a validated config's file set (see `recordS2sKeys`). */
export function recordS2sKeys(config: S2sConfig, keys: readonly string[]): void {
  keysSet.set(config, keys);
}

/** The `[s2s]` keys the file of `config` set; `[]` for a config the config layer did not build. */
export function s2sKeysSet(config: S2sConfig): readonly string[] {
  return keysSet.get(config) ?? [];
}
