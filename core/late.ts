import type { InjectionToken } from "tsyringe";

/**
 * Resolve tokens at use time from this server's container. The core has real cycles (the router
 * sends over outbound sessions, which bounce through the router; dialback verifies over outbound
 * sessions, which authenticate with dialback): the side that closes a cycle injects LATE and
 * resolves when it first needs the other side, never in its constructor.
 */
export interface Late {
  get<T>(token: InjectionToken<T>): T;
  all<T>(token: InjectionToken<T>): T[];
}

export const LATE: InjectionToken<Late> = Symbol.for("xmpp-s2s.Late");

/** A getter that resolves once, on first use (the router is wired after the plugins that use it). */
export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
