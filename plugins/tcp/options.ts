import {
  DEFAULT_SESSION_SETTINGS,
  field,
  formatValue,
  integer,
  MAX_TIMER_MS,
  type OptionsResult,
  orInfinity,
  type S2sChecked,
  type S2sOwner,
  type S2sSection,
} from "../../core/index.js";

export interface TcpConnectorOptions {
  readonly queueLimit: number;
  readonly idleTimeoutMs: number;
  readonly negotiationTimeoutMs: number;
  readonly initialRetryDelayMs: number;
  readonly holdWindowMs: number;
  readonly maxSessions: number;
  /** XEP-0288 bidirectional streams (`bidi`, docs/configuration.md). */
  readonly bidi?: boolean;
}

/**
 * The core's session defaults (core/session/session-settings.ts): this table only lets operators
 * change them. A function, not a constant: this file and core/index.ts import each other, so a
 * top-level read of an imported value would run before core/index.ts has finished loading.
 */
export function tcpDefaults(): TcpConnectorOptions {
  return DEFAULT_SESSION_SETTINGS;
}

/** Seconds in TOML (like MongooseIM's max_retry_delay), ms inside. */
const SECONDS_KEYS = {
  idle_timeout: "idleTimeoutMs",
  negotiation_timeout: "negotiationTimeoutMs",
  initial_retry_delay: "initialRetryDelayMs",
  hold_window: "holdWindowMs",
} as const;

export function parseTcpOptions(raw: Readonly<Record<string, unknown>>): OptionsResult<TcpConnectorOptions> {
  const problems: string[] = [];
  const out: { -readonly [K in keyof TcpConnectorOptions]: TcpConnectorOptions[K] } = { ...tcpDefaults() };
  for (const [key, value] of Object.entries(raw)) {
    if (key === "queue_limit" || key === "max_sessions") {
      if (typeof value === "number" && Number.isInteger(value) && value > 0) out[key === "queue_limit" ? "queueLimit" : "maxSessions"] = value;
      else problems.push(`${key}: expected a positive integer (got ${formatValue(value)}, expected e.g. 10000)`);
    } else if (key === "bidi") {
      if (typeof value === "boolean") out.bidi = value;
      else problems.push(`bidi: expected true or false (got ${formatValue(value)}, expected e.g. false)`);
    } else if (key in SECONDS_KEYS) {
      const field = SECONDS_KEYS[key as keyof typeof SECONDS_KEYS];
      const allowInfinity = key === "idle_timeout";
      if (allowInfinity && value === "infinity") out[field] = Infinity;
      else if (typeof value === "number" && Number.isFinite(value) && (key === "hold_window" ? value >= 0 : value > 0)) out[field] = Math.round(value * 1000);
      else problems.push(`${key}: expected ${key === "hold_window" ? "a non-negative" : "a positive"} number of seconds${allowInfinity ? ' or "infinity"' : ""} (got ${formatValue(value)}, expected e.g. 30)`);
    } else {
      problems.push(`${key}: unknown option (got ${formatValue(value)}, expected one of queue_limit, max_sessions, bidi, ${Object.keys(SECONDS_KEYS).join(", ")})`);
    }
  }
  return problems.length ? { problems } : { options: out };
}

/** `s2s.outgoing.connection_timeout`: milliseconds per TCP connection attempt (MongooseIM's unit and default, 10000). */
export const tcpS2sOptions: S2sOwner = { plugin: "tcp", keys: ["outgoing.connection_timeout"], validate: validateConnectionTimeout };

function validateConnectionTimeout({ ctx, outgoing }: S2sSection): S2sChecked {
  const expected = `a positive integer number of milliseconds, at most ${MAX_TIMER_MS}, or "infinity"`;
  const check = orInfinity(integer(1, MAX_TIMER_MS, expected, "a positive integer"), expected);
  return { values: { outgoing: { connectionTimeoutMs: field(ctx, outgoing, "s2s.outgoing", "connection_timeout", check) ?? 10_000 } } };
}
