import type { InjectionToken } from "tsyringe";

export type PolicyVerdict = "allow" | "deny";

export interface PolicyRequest {
  readonly localDomain: string;
  /** Lower-cased, IDNA-normalised remote domain. */
  readonly remoteDomain: string;
  readonly direction: "inbound" | "outbound";
  /** How the remote domain is being authenticated or reached: "dialback", "sasl_external", "connect". */
  readonly via: string;
}

/**
 * The Policy slot (many, ordered by `[plugins] policy`). A policy returns a verdict or `undefined`
 * ("no opinion"); the first verdict wins; when nobody has an opinion `s2s.default_policy` decides.
 * A policy that throws or times out denies (fail closed: a broken policy must not let a denied domain in).
 */
export interface Policy {
  readonly name: string;
  decide(request: PolicyRequest): PolicyVerdict | undefined | Promise<PolicyVerdict | undefined>;
  /** Release watchers and timers: called when a reload replaces this policy and at shutdown. */
  close?(): void | Promise<void>;
}

export const POLICY: InjectionToken<Policy> = Symbol.for("xmpp-s2s.Policy");
