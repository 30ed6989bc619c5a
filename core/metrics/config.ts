/**
 * `[instrumentation]`: MongooseIM's instrumentation section, of which xmpp-s2s implements
 * `[instrumentation.prometheus]` (an empty table switches the Prometheus metrics on). Validated
 * here, next to the metrics code that uses it.
 */
import { field, positiveInteger, table, type CheckContext, type TableShape } from "../config/checks.js";

export interface InstrumentationConfig {
  /** `[instrumentation.prometheus]` is present: metrics are collected (and served by a mongoose_prometheus_handler). */
  readonly prometheus: boolean;
}

const SHAPE: TableShape = {
  keys: ["prometheus", "probe_interval"],
  hints: {
    exometer: "xmpp-s2s exports metrics to Prometheus only ([instrumentation.prometheus])",
    log: "xmpp-s2s logs its events as JSON lines always; remove [instrumentation.log]",
  },
};
const PROMETHEUS_SHAPE: TableShape = { keys: [] };

export const INSTRUMENTATION_DEFAULTS: InstrumentationConfig = Object.freeze({ prometheus: false });

export function validateInstrumentation(ctx: CheckContext, raw: unknown): InstrumentationConfig {
  if (raw === undefined) return INSTRUMENTATION_DEFAULTS;
  const t = table(ctx, "instrumentation", raw, SHAPE, "a table ([instrumentation]) with [instrumentation.prometheus]");
  if (t === undefined) return INSTRUMENTATION_DEFAULTS;
  // MongooseIM's probe interval for its periodic probes: we read every value at scrape time, so it has no effect.
  field(ctx, t, "instrumentation", "probe_interval", positiveInteger);
  if (t["prometheus"] === undefined) return INSTRUMENTATION_DEFAULTS;
  table(ctx, "instrumentation.prometheus", t["prometheus"], PROMETHEUS_SHAPE, "an empty table, written [instrumentation.prometheus]");
  return { prometheus: true };
}
