/**
 * Inbound connection caps of one `[[listen.s2s]]`: `max_connections` (MongooseIM 6.4's key, a hard
 * cap here) and our `max_connections_per_ip`. Their schema lives here, next to the code that
 * enforces them; `core/config/validate.ts` only calls `checkInboundLimits`.
 */
import { field, integer, orInfinity, type CheckContext, type Table } from "../config/checks.js";

export const INBOUND_LIMIT_KEYS = ["max_connections", "max_connections_per_ip"] as const;

export const INBOUND_LIMIT_DEFAULTS = Object.freeze({
  /** ~55 KiB per idle TLS link (docs/performance.md, "Memory"): 10,000 links stay well under 1 GiB. */
  maxConnections: 10_000,
  /**
   * A peer opens one stream per (its domain, our domain) pair it sends from: 100 covers a hosting
   * provider with dozens of domains behind one address; more is raised explicitly.
   */
  maxConnectionsPerIp: 100,
});

const MAX_CONNECTIONS_EXPECTED = 'a positive integer or "infinity"';
const limit = orInfinity(integer(1, Number.MAX_SAFE_INTEGER, MAX_CONNECTIONS_EXPECTED, "a positive integer"), MAX_CONNECTIONS_EXPECTED);

export function checkInboundLimits(ctx: CheckContext, t: Table, p: string): { maxConnections: number; maxConnectionsPerIp: number } {
  const d = INBOUND_LIMIT_DEFAULTS;
  return {
    maxConnections: field(ctx, t, p, "max_connections", limit) ?? d.maxConnections,
    maxConnectionsPerIp: field(ctx, t, p, "max_connections_per_ip", limit) ?? d.maxConnectionsPerIp,
  };
}

export type Admission = { readonly admitted: true; readonly release: () => void } | { readonly admitted: false; readonly condition: string; readonly text: string };

/** Counts open connections of one listener, in total and per remote IP address. */
export class ConnectionAdmission {
  #total = 0;
  /** Keyed by remote address: at most `maxConnections` entries, an entry leaves with its last connection. */
  readonly #perIp = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxConnectionsPerIp: number,
  ) {}

  admit(ip: string): Admission {
    // RFC 6120 §4.9.3.18: resource-constraint when the server as a whole is full; §4.9.3.16:
    // policy-violation when this one address exceeds what local policy allows.
    if (this.#total >= this.maxConnections) {
      return { admitted: false, condition: "resource-constraint", text: `this listener has reached its limit of ${this.maxConnections} connections` };
    }
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= this.maxConnectionsPerIp) {
      return { admitted: false, condition: "policy-violation", text: `too many connections from ${ip} (limit ${this.maxConnectionsPerIp})` };
    }
    this.#total++;
    this.#perIp.set(ip, fromIp + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#perIp.get(ip) ?? 1) - 1;
        if (left === 0) this.#perIp.delete(ip);
        else this.#perIp.set(ip, left);
      },
    };
  }
}
