import { inject, injectAll, injectable } from "../cjs/tsyringe.js";
import { withTimeout } from "../time/with-timeout.js";
import { comparableDomain } from "../router/stanza.js";
import type { S2sConfig } from "../config/types.js";
import { EVENTS, type EventBus } from "../events/events.js";
import { LOGGER, type Logger } from "../logging/logger.js";
import { CONFIG } from "../tokens.js";
import type { PolicyChain } from "./chain.js";
import { POLICY, type Policy, type PolicyRequest, type PolicyVerdict } from "./policy.js";

/** A policy that has not answered in this time denies: a hung lookup must not hold a stream open forever. */
export const POLICY_TIMEOUT_MS = 5000;

/**
 * First opinion wins, in `[plugins] policy` order; nobody has one: `s2s.default_policy`.
 * A policy that throws, returns garbage or times out denies (fail closed) and is logged as
 * `policy_failed` (fail closed; MongooseIM's hook runner continues past a crash, which fails open).
 */
@injectable()
export class OrderedPolicyChain implements PolicyChain {
  #policies: Policy[];
  #defaultPolicy: PolicyVerdict;

  constructor(
    @inject(CONFIG) config: S2sConfig,
    /** In `[plugins] policy` order; none when the operator enabled none (then only the default decides). */
    @injectAll(POLICY, { isOptional: true }) policies: Policy[],
    @inject(EVENTS) private readonly events: EventBus,
    @inject(LOGGER) private readonly logger: Logger,
  ) {
    this.#policies = policies;
    this.#defaultPolicy = config.s2s.defaultPolicy;
  }

  /** Reload: the new policy plugins and default take effect for every later decision. */
  replace(policies: Policy[], defaultPolicy: PolicyVerdict): Policy[] {
    const old = this.#policies;
    this.#policies = policies;
    this.#defaultPolicy = defaultPolicy;
    return old;
  }

  /** Shutdown: release the current policies' watchers and timers. */
  async close(): Promise<void> {
    // One policy failing to let go of its watchers must not keep the others' open: log it, go on.
    for (const p of this.#policies) {
      await Promise.resolve(p.close?.()).catch((err: unknown) => this.logger.warn({ what: "policy_close_failed", policy: p.name, err }, "policy close failed"));
    }
  }

  async decide(input: PolicyRequest): Promise<PolicyVerdict> {
    // host_policy matches the exact lower-cased domain after IDNA, as MongooseIM does; normalise once for every policy.
    const request: PolicyRequest = { ...input, remoteDomain: comparableDomain(input.remoteDomain), localDomain: comparableDomain(input.localDomain) };
    for (const policy of this.#policies) {
      let verdict: PolicyVerdict | undefined;
      try {
        verdict = await withTimeout(Promise.resolve(policy.decide(request)), POLICY_TIMEOUT_MS, () => new Error(`no answer within ${POLICY_TIMEOUT_MS} ms`));
        if (verdict !== undefined && verdict !== "allow" && verdict !== "deny") throw new Error(`returned ${JSON.stringify(verdict)}, expected "allow", "deny" or undefined`);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.logger.warn({ what: "policy_failed", policy: policy.name, local: request.localDomain, remote: request.remoteDomain, reason }, "policy failed: denying");
        this.events.emit({ type: "policy_failed", policy: policy.name, local: request.localDomain, remote: request.remoteDomain, reason });
        return this.#decided(request, "deny", policy.name);
      }
      if (verdict !== undefined) return this.#decided(request, verdict, policy.name);
    }
    return this.#decided(request, this.#defaultPolicy, "default_policy");
  }

  #decided(request: PolicyRequest, verdict: PolicyVerdict, decidedBy: string): PolicyVerdict {
    this.logger.debug({ what: "policy_decision", ...request, verdict, decidedBy });
    this.events.emit({ type: "policy_decision", local: request.localDomain, remote: request.remoteDomain, direction: request.direction, verdict, decidedBy });
    return verdict;
  }
}
