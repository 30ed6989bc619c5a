import {
  arrayOf,
  didYouMean,
  field,
  formatValue,
  item,
  nonEmptyString,
  problem,
  type Check,
  type OptionsResult,
  type S2sChecked,
  type S2sOwner,
  type S2sSection,
} from "../../core/index.js";

/** Caps on XEP-0220 verifications (the receiving role asks the authoritative server over an outbound stream). */
export interface DialbackOptions {
  /** Verifications under way per inbound stream. */
  readonly maxPendingPerStream: number;
  /**
   * Verifications under way in total. Each holds at most one outbound stream being opened to an
   * authoritative server, so this also caps the connections a flood of `db:result` from distinct
   * domains can make us open at once.
   */
  readonly maxPending: number;
}

export const DIALBACK_DEFAULTS: DialbackOptions = { maxPendingPerStream: 10, maxPending: 200 };

const KEYS = { max_pending_per_stream: "maxPendingPerStream", max_pending: "maxPending" } as const;

/** `[plugins.dialback] max_pending_per_stream = 10`, `max_pending = 200`. */
export function parseDialbackOptions(raw: Readonly<Record<string, unknown>>): OptionsResult<DialbackOptions> {
  const problems: string[] = [];
  const out: { -readonly [K in keyof DialbackOptions]: number } = { ...DIALBACK_DEFAULTS };
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in KEYS)) {
      const hint = didYouMean(key, Object.keys(KEYS));
      problems.push(`${key}: unknown option (got ${formatValue(value)}, expected ${Object.keys(KEYS).join(" or ")}${hint ? `; did you mean "${hint}"?` : ""})`);
      continue;
    }
    if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 1_000_000) out[KEYS[key as keyof typeof KEYS]] = value;
    else problems.push(`${key}: expected an integer from 1 to 1000000 (got ${formatValue(value)}, expected e.g. ${DIALBACK_DEFAULTS[KEYS[key as keyof typeof KEYS]]})`);
  }
  return problems.length ? { problems } : { options: out };
}

/** `s2s.shared`: the XEP-0185 dialback secret (absent: a random one per process, see dialback-keys.ts). */
export const dialbackS2sOptions: S2sOwner = { plugin: "dialback", keys: ["shared"], validate: validateShared };

function validateShared({ ctx, s2s }: S2sSection): S2sChecked {
  const shared = field(ctx, s2s, "s2s", "shared", sharedSecrets);
  return { values: shared === undefined ? {} : { shared: shared[0], sharedSecrets: shared } };
}

const SHARED_EXPECTED = 'a non-empty string, or a non-empty array of them (the first signs, all verify), e.g. ["new secret", "old secret"]';

/**
 * `s2s.shared`: one secret, or a list for rotation. XEP-0185 keys are generated with the first and
 * verified against each, so an operator rotates by putting the new secret first on every node
 * (reload), then removing the old one. A single string is a list of one. A problem never prints a
 * secret that is a valid string, only its position.
 */
const sharedSecrets: Check<readonly string[]> = (ctx, path, value) => {
  if (typeof value === "string") return nonEmptyString(ctx, path, value) === undefined ? undefined : [value];
  if (!Array.isArray(value)) return problem(ctx, path, "not a string or an array", value, SHARED_EXPECTED);
  const list = arrayOf(nonEmptyString, SHARED_EXPECTED, { nonEmpty: true })(ctx, path, value);
  if (list === undefined) return undefined;
  const dup = list.findIndex((s, i) => list.indexOf(s) !== i);
  if (dup >= 0) return problem(ctx, item(path, dup), "duplicate secret", "(hidden)", "each secret at most once", `same as ${item(path, list.indexOf(list[dup]!))}`);
  return list;
};
