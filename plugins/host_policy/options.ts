import {
  arrayOfTables,
  child,
  domain,
  type HostPolicyEntry,
  item,
  oneOf,
  reportDuplicates,
  required,
  type S2sChecked,
  type S2sOwner,
  type S2sSection,
  SYNTAX,
  type TableShape,
} from "../../core/index.js";

const HOST_POLICY_SHAPE: TableShape = { keys: ["host", "policy"] };

/** `s2s.host_policy`: the per-domain verdicts this plugin applies (`default_policy` is the core's, applied after every policy). */
export const hostPolicyS2sOptions: S2sOwner = { plugin: "host_policy", keys: ["host_policy"], validate: validateHostPolicy };

function validateHostPolicy({ ctx, s2s }: S2sSection): S2sChecked {
  const path = "s2s.host_policy";
  const expected = 'an array of tables {host = "b.example", policy = "allow" or "deny"}';
  const entries = arrayOfTables(ctx, path, s2s["host_policy"], HOST_POLICY_SHAPE, expected, (t, ip) => {
    const host = required(ctx, t, ip, "host", domain, SYNTAX.domain);
    const policy = required(ctx, t, ip, "policy", oneOf(["allow", "deny"] as const), '"allow" or "deny"');
    return host === undefined || policy === undefined ? undefined : ({ host, policy } satisfies HostPolicyEntry);
  });
  reportDuplicates(ctx, entries, (e) => e.host, (i) => child(item(path, i), "host"), "host");
  return { values: { hostPolicy: entries.filter((e) => e !== undefined) } };
}
