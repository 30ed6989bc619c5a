import type { InjectionToken } from "tsyringe";
import type { S2sConfig } from "../config/types.js";

/**
 * Settings of the core's outbound sessions (they used to ride on the Connector slot,
 * which now only connects). Operators write them in the connector plugin's table
 * (`[plugins.tcp] queue_limit = ...`, docs/configuration.md), which provides them under
 * SESSION_SETTINGS; without a provider the core uses DEFAULT_SESSION_SETTINGS.
 */
export interface SessionSettings {
  /** Stanzas held per (local, remote) pair while it is not established; overflow bounces `resource-constraint`. */
  readonly queueLimit: number;
  /** An established outbound stream with nothing sent for this long is closed. Infinity: never. */
  readonly idleTimeoutMs: number;
  /** From TCP connect to an authenticated stream; beyond it the attempt fails (`remote-server-timeout`). */
  readonly negotiationTimeoutMs: number;
  /** First delay before retrying a pair whose targets all failed; doubles up to maxRetryDelayMs. */
  readonly initialRetryDelayMs: number;
  /** `s2s.max_retry_delay`, in ms. */
  readonly maxRetryDelayMs: number;
  /** While a pair waits to retry, new stanzas are held this long and then bounced `remote-server-not-found`. */
  readonly holdWindowMs: number;
  /** Outbound (local, remote) sessions kept at once; idle ones are evicted first (least recently used). */
  readonly maxSessions: number;
  /** XEP-0288 bidirectional streams, offered inbound and asked for outbound (core/session/bidi-links.ts). Absent: on. */
  readonly bidi?: boolean;
}

/** Outbound sessions kept at once by default (`[plugins.tcp] max_sessions`). */
export const DEFAULT_MAX_SESSIONS = 10_000;

/** The defaults of every setting but `max_retry_delay`, which is an `[s2s]` key. */
export const DEFAULT_SESSION_SETTINGS: Omit<SessionSettings, "maxRetryDelayMs"> = {
  queueLimit: 10_000,
  idleTimeoutMs: 600_000,
  negotiationTimeoutMs: 30_000,
  initialRetryDelayMs: 1_000,
  holdWindowMs: 10_000,
  maxSessions: DEFAULT_MAX_SESSIONS,
  bidi: true,
};

/** What the core uses when no plugin provides SESSION_SETTINGS. */
export function defaultSessionSettings(config: S2sConfig): SessionSettings {
  return { ...DEFAULT_SESSION_SETTINGS, maxRetryDelayMs: config.s2s.maxRetryDelayMs };
}

export const SESSION_SETTINGS: InjectionToken<SessionSettings> = Symbol.for("xmpp-s2s.SessionSettings");
