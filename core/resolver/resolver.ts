import type { InjectionToken } from "tsyringe";

/** One place to try, in order (RFC 6120 §3.2, XEP-0368). */
export interface ConnectTarget {
  /** IP address (preferred) or host name to connect to. */
  readonly host: string;
  readonly port: number;
  /** XEP-0368: TLS from the first byte instead of STARTTLS. */
  readonly directTls: boolean;
  /** IP family when `host` is an address. */
  readonly family?: 4 | 6;
  /** Name the target was found under (SRV target or the domain), for logs and SRV-ID checks. */
  readonly via?: string;
}

/**
 * The Resolver slot: remote domain -> ordered connect targets.
 * "No such domain/service" is an empty array; "could not ask" (timeout, SERVFAIL) rejects with an
 * S2sError of code RESOLVE_FAILED ("no answer" is a value, "could not ask" an error).
 */
export interface Resolver {
  resolve(domain: string, signal?: AbortSignal): Promise<ConnectTarget[]>;
}

export const RESOLVER: InjectionToken<Resolver> = Symbol.for("xmpp-s2s.Resolver");
