/**
 * Per-server stanza counters on the hot path: plain number fields, incremented once per stanza
 * (no label lookup, no hashing). The Prometheus collector reads them at scrape time, so a server
 * without `[instrumentation.prometheus]` pays one increment per stanza and nothing else.
 */
export class TrafficCounters {
  /** Stanzas accepted on inbound streams from authenticated remote domains. */
  stanzasIn = 0;
  /** Stanzas written to established outbound streams. */
  stanzasOut = 0;
}
