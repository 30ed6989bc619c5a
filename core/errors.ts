/**
 * One base error for the framework. Every error carries a stable `code` (catalogued below) and,
 * where it maps to the wire, the XMPP condition to send (RFC 6120 §4.9.3 stream errors,
 * §8.3.3 stanza errors). Use `isS2sError` rather than `instanceof`: a plugin may bring its own
 * copy of this module.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: "ERR_S2S_CONFIG_INVALID",
  STREAM_ERROR: "ERR_S2S_STREAM_ERROR",
  RESOLVE_FAILED: "ERR_S2S_RESOLVE_FAILED",
  NO_SERVICE: "ERR_S2S_NO_SERVICE",
  CONNECT_FAILED: "ERR_S2S_CONNECT_FAILED",
  TLS_FAILED: "ERR_S2S_TLS_FAILED",
  AUTH_FAILED: "ERR_S2S_AUTH_FAILED",
  POLICY_DENIED: "ERR_S2S_POLICY_DENIED",
  TIMEOUT: "ERR_S2S_TIMEOUT",
  /** An abuse limit (connections, verifications, sessions) is reached: `resource-constraint`. */
  LIMIT_REACHED: "ERR_S2S_LIMIT_REACHED",
  /** Cluster mode cannot start: Redis unreachable at start, or the node name is taken (docs/cluster.md). */
  CLUSTER_UNAVAILABLE: "ERR_S2S_CLUSTER_UNAVAILABLE",
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class S2sError extends Error {
  readonly isS2sError = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** XMPP condition (stream or stanza error element name) that describes this failure on the wire. */
    readonly condition?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "S2sError";
  }
}

export function isS2sError(err: unknown): err is S2sError {
  return typeof err === "object" && err !== null && (err as { isS2sError?: unknown }).isS2sError === true;
}

/** A configuration problem list: each line is `dotted.path: what is wrong (got VALUE, expected SYNTAX)`. */
export class ConfigError extends S2sError {
  constructor(readonly problems: readonly string[]) {
    super(ERROR_CODES.CONFIG_INVALID, `invalid configuration:\n${problems.join("\n")}`);
    this.name = "ConfigError";
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return isS2sError(err) && err.code === ERROR_CODES.CONFIG_INVALID && Array.isArray((err as ConfigError).problems);
}
