import { didYouMean, formatValue, type OptionsResult, type StreamManagementSettings } from "../../core/index.js";

/**
 * Defaults. resume_window 60 s: long enough for a link cut, a NAT rebinding or a restarted router
 * to come back (the reconnection itself is immediate), short enough that the senders of
 * unacknowledged stanzas learn within a minute when it does not; longer would hold their memory and
 * their answer for a peer that is probably gone. A peer *process* restart loses its SM state and
 * answers `<failed/>` at once, so that case never waits for the window.
 */
export const SM_DEFAULTS: StreamManagementSettings = { resumeWindowMs: 60_000, ackEvery: 100, maxResumable: 10_000 };

const KEYS = {
  resume_window: { field: "resumeWindowMs", min: 1, max: 3600, scale: 1000, unit: "seconds" },
  ack_every: { field: "ackEvery", min: 1, max: 100_000, scale: 1, unit: "stanzas" },
  max_resumable: { field: "maxResumable", min: 1, max: 1_000_000, scale: 1, unit: "sessions" },
} as const;

/** `[plugins.stream_management] resume_window = 60`, `ack_every = 100`, `max_resumable = 10000`. */
export function parseSmOptions(raw: Readonly<Record<string, unknown>>): OptionsResult<StreamManagementSettings> {
  const problems: string[] = [];
  const out: { -readonly [K in keyof StreamManagementSettings]: number } = { ...SM_DEFAULTS };
  for (const [key, value] of Object.entries(raw)) {
    const spec = KEYS[key as keyof typeof KEYS];
    if (!spec) {
      const hint = didYouMean(key, Object.keys(KEYS));
      problems.push(`${key}: unknown option (got ${formatValue(value)}, expected ${Object.keys(KEYS).join(", ")}${hint ? `; did you mean "${hint}"?` : ""})`);
      continue;
    }
    if (typeof value === "number" && Number.isInteger(value) && value >= spec.min && value <= spec.max) out[spec.field] = value * spec.scale;
    else problems.push(`${key}: expected an integer from ${spec.min} to ${spec.max} ${spec.unit} (got ${formatValue(value)}, expected e.g. ${SM_DEFAULTS[spec.field] / spec.scale})`);
  }
  return problems.length ? { problems } : { options: out };
}
