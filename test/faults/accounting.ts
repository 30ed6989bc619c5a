/**
 * Stanza accounting for the fault tests ("one stanza, one account", docs/operations.md): per
 * stanza id, what came back to the sender. Every id sent must end delivered (echoed) or bounced
 * with a condition; an id seen twice is a duplicate; an id never seen is either "written,
 * unacknowledged" (it was on a connection that broke: without XEP-0198 nobody can know whether the
 * peer read it) or silent (a defect).
 *
 * Telling those two apart without acknowledgements: TCP delivers in order, and we keep order, so
 * what a broken connection loses is one contiguous run of ids (the tail of what was written into
 * it). A scenario says how many connections it breaks (`breaks`, counting both directions); up to
 * that many runs of missing ids count as written-unacknowledged, the largest first; every other
 * missing id is silent.
 */
const STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export interface Accounts {
  readonly sent: number;
  readonly delivered: number;
  readonly bounced: number;
  /** Bounces by condition, e.g. { "remote-server-not-found": 12 }. */
  readonly conditions: Record<string, number>;
  readonly duplicated: number;
  readonly writtenUnacknowledged: number;
  readonly silent: number;
  /** Delivered ids that arrived after a later-sent id was delivered. */
  readonly outOfOrder: number;
  /** Lengths of the runs of missing ids, in send order. */
  readonly missingRuns: number[];
  /** Where each run starts (index in send order). */
  readonly missingFrom: number[];
}

export class StanzaAccounting {
  readonly #order: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #delivered = new Map<string, number>();
  readonly #bounced = new Map<string, string>();
  #duplicated = 0;
  #outOfOrder = 0;
  #lastDelivered = -1;
  #tail = "";

  /** Register an id as sent (in send order). */
  sent(id: string): void {
    this.#index.set(id, this.#order.length);
    this.#order.push(id);
  }

  get sentCount(): number {
    return this.#order.length;
  }

  /** Ids delivered so far. */
  get deliveredCount(): number {
    return this.#delivered.size;
  }

  /** Send-order index of the latest id delivered (-1: none yet). */
  get lastDeliveredIndex(): number {
    return this.#lastDelivered;
  }

  /** Ids with an outcome (delivered or bounced). */
  get settled(): number {
    return this.#delivered.size + this.#bounced.size;
  }

  /** Whether `id` was delivered or bounced. */
  isSettled(id: string): boolean {
    return this.#delivered.has(id) || this.#bounced.has(id);
  }

  delivered(id: string): void {
    if (this.#delivered.has(id) || this.#bounced.has(id)) this.#duplicated++;
    this.#delivered.set(id, (this.#delivered.get(id) ?? 0) + 1);
    const at = this.#index.get(id) ?? -1;
    if (at < this.#lastDelivered) this.#outOfOrder++;
    else this.#lastDelivered = at;
  }

  bounced(id: string, condition: string): void {
    if (this.#delivered.has(id) || this.#bounced.has(id)) this.#duplicated++;
    this.#bounced.set(id, condition);
  }

  /**
   * Feed raw text a component received (`<message>` stanzas as our server serialises them): an
   * error with a defined condition is a bounce, anything else with a known id a delivery.
   */
  feed(chunk: string): void {
    const text = this.#tail + chunk;
    let start = 0;
    for (let end = text.indexOf("</message>"); end !== -1; end = text.indexOf("</message>", start)) {
      const stanza = text.slice(text.indexOf("<message", start), end);
      start = end + 10;
      const id = /\sid=['"]([^'"]+)['"]/.exec(stanza)?.[1];
      if (!id || !this.#index.has(id)) continue;
      if (/\stype=['"]error['"]/.test(stanza.slice(0, stanza.indexOf(">")))) {
        const condition = new RegExp(`<([a-z-]+) xmlns=['"]${STANZA_ERRORS}['"]`).exec(stanza)?.[1] ?? "undefined-condition";
        this.bounced(id, condition);
      } else this.delivered(id);
    }
    this.#tail = text.slice(start);
  }

  /**
   * Ids both delivered and bounced, each once, with the bounce's condition: with XEP-0198 this is
   * a stanza the peer handled whose acknowledgement was lost when the peer process died, so the
   * sender bounced it as unacknowledged. Counted in `duplicated` too; a test tells them apart.
   */
  deliveredThenBounced(): Array<{ id: string; condition: string }> {
    const out: Array<{ id: string; condition: string }> = [];
    for (const [id, condition] of this.#bounced) if ((this.#delivered.get(id) ?? 0) === 1) out.push({ id, condition });
    return out;
  }

  /** The accounts, with up to `breaks` runs of missing ids counted as written-unacknowledged. */
  accounts(breaks = 0): Accounts {
    const conditions: Record<string, number> = {};
    for (const c of this.#bounced.values()) conditions[c] = (conditions[c] ?? 0) + 1;
    const runs: number[] = [];
    const from: number[] = [];
    let run = 0;
    this.#order.forEach((id, i) => {
      if (this.#delivered.has(id) || this.#bounced.has(id)) {
        if (run > 0) runs.push(run);
        run = 0;
      } else if (run++ === 0) from.push(i);
    });
    if (run > 0) runs.push(run);
    const forgiven = [...runs].sort((a, b) => b - a).slice(0, breaks).reduce((a, b) => a + b, 0);
    const missing = runs.reduce((a, b) => a + b, 0);
    let delivered = 0;
    for (const id of this.#delivered.keys()) if (!this.#bounced.has(id)) delivered++;
    return {
      sent: this.#order.length,
      delivered,
      bounced: this.#bounced.size,
      conditions,
      duplicated: this.#duplicated,
      writtenUnacknowledged: forgiven,
      silent: missing - forgiven,
      outOfOrder: this.#outOfOrder,
      missingRuns: runs,
      missingFrom: from,
    };
  }
}

/** One line for t.diagnostic and docs/operations.md. */
export function describeAccounts(scenario: string, a: Accounts): string {
  const conditions = Object.entries(a.conditions).map(([c, n]) => `${c} ${n}`).join(", ") || "none";
  return `${scenario}: sent ${a.sent}, delivered ${a.delivered}, bounced ${a.bounced} (${conditions}), written-unacknowledged ${a.writtenUnacknowledged}, duplicated ${a.duplicated}, silent ${a.silent}, out of order ${a.outOfOrder}`;
}
