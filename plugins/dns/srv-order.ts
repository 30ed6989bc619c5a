/** One SRV record of either service, tagged with how to connect to it. */
export interface SrvChoice {
  /** Target host name; "" is the root "." (node's spelling). */
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
  /** XEP-0368: found under `_xmpps-server._tcp` (TLS from the first byte). */
  readonly directTls: boolean;
}

/** A number in [0, 1), like Math.random. Injected so the selection is testable. */
export type RandomSource = () => number;

/**
 * RFC 2782 "Usage rules": lower priority first; within one priority, repeatedly pick a record at
 * random with probability proportional to its weight (weight-0 records first in the running sum,
 * so they are chosen rarely but can be), remove it and repeat. XEP-0368 §3 rule 1: records of
 * `_xmpps-server` and `_xmpp-server` are treated as one set, priorities and weights mixed, so this
 * function takes both sets at once (Prosody and ejabberd try every xmpps record first).
 */
export function orderSrv<T extends Pick<SrvChoice, "priority" | "weight">>(records: readonly T[], random: RandomSource = Math.random): T[] {
  const byPriority = new Map<number, T[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group) group.push(r);
    else byPriority.set(r.priority, [r]);
  }
  const ordered: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    // "all those with weight 0 are placed at the beginning of the list" (RFC 2782).
    const pool = [...byPriority.get(priority)!].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (pool.length > 0) {
      const total = pool.reduce((sum, r) => sum + r.weight, 0);
      // "a uniform random number between 0 and the sum computed (inclusive)".
      const pick = Math.min(Math.floor(random() * (total + 1)), total);
      let running = 0;
      let index = pool.length - 1;
      for (let i = 0; i < pool.length; i++) {
        running += pool[i]!.weight;
        if (running >= pick) {
          index = i;
          break;
        }
      }
      ordered.push(pool.splice(index, 1)[0]!);
    }
  }
  return ordered;
}

/** RFC 6120 §3.2.1 / RFC 2782: a single record whose target is "." means "this service is decidedly not offered here". */
export function isNoService(records: readonly Pick<SrvChoice, "name">[]): boolean {
  return records.length === 1 && (records[0]!.name === "" || records[0]!.name === ".");
}
