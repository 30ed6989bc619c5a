import type { HostPolicyEntry, Policy, PolicyRequest, PolicyVerdict } from "../../core/index.js";

/**
 * `s2s.host_policy`: an exact match on the lower-cased, IDNA-normalised remote domain
 * (MongooseIM semantics, no wildcards). No entry: no opinion, so later policies and then
 * `s2s.default_policy` decide.
 */
export class HostPolicy implements Policy {
  readonly name = "host_policy";
  readonly #table: ReadonlyMap<string, PolicyVerdict>;

  constructor(entries: readonly HostPolicyEntry[]) {
    this.#table = new Map(entries.map((e) => [e.host, e.policy]));
  }

  decide(request: PolicyRequest): PolicyVerdict | undefined {
    return this.#table.get(request.remoteDomain);
  }
}
