import type { InjectionToken } from "tsyringe";
import type { PolicyRequest, PolicyVerdict } from "./policy.js";

/** Runs the policy plugins in order, then `s2s.default_policy`; fail closed. */
export interface PolicyChain {
  decide(request: PolicyRequest): Promise<PolicyVerdict>;
}

export const POLICY_CHAIN: InjectionToken<PolicyChain> = Symbol.for("xmpp-s2s.PolicyChain");
