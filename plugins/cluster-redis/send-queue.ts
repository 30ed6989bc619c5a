/**
 * The forwards waiting to leave for one node (docs/cluster.md "Backpressure"), in order, cut into
 * batches of bounded size, each with the time it stopped growing. Pure logic: redis-cluster.ts
 * publishes the head batch when the node's window (flow.ts) has room and fails what expires.
 *
 * - Size: a batch takes stanzas up to MAX_BATCH_CHARS (counted in characters of their XML), one
 *   bigger stanza goes alone. The window counts batches (8 unacknowledged), so this bounds in bytes
 *   what a receiving node may be handed beyond what its sinks took: about 8 x 256 KB, whatever the
 *   stanzas. Before, a batch was the whole queue (up to 20,000 stanzas: 40 MB of 2 KB messages in
 *   one PUBLISH, past Redis's own limit for a subscriber's output buffer, which then drops the
 *   receiving node's connection and the message with it). Small stanzas under load make batches of
 *   a few tens of KB (what is routed while the previous batch awaits Redis's answer), well under
 *   the bound: their throughput is unchanged.
 * - Time: a batch is sealed (stops growing) when it is full, or at a retry tick while it cannot
 *   leave; `expired` hands back the batches sealed at least `ms` ago: every stanza in them has
 *   waited at least that long. Forwards that were held before (for a node whose inbox had no
 *   receiver) carry the deadline set when they were first held, and go in batches of their own:
 *   such a batch expires once the last of its deadlines has passed, so a stanza held for a dead
 *   node and then queued for a node that takes nothing waits the bound once from when it was
 *   first held, not the bound held plus the bound queued; and none bounces before its own
 *   deadline, since fresh forwards never share its batch. A held batch may sit behind fresh ones
 *   that have not expired: it is taken out of the middle (bounced stanzas are never delivered, so
 *   the order of what is delivered is kept). Expired batches were never published, so failing
 *   them (a bounce) can never be followed by a delivery: the at-most-once rule holds without
 *   asking the receiver.
 */
import { receivedText, type XmlElement } from "../../core/index.js";
import { addItem, newBatch, type Envelope, type OutBatch } from "./wire.js";

/** A batch carries stanzas up to this many characters of XML (one bigger stanza goes alone). */
export const MAX_BATCH_CHARS = 256 * 1024;

export interface QueuedBatch {
  /** The wire batch (wire.ts), numbered and encoded when it leaves. */
  readonly batch: OutBatch;
  count: number;
  chars: number;
  /** Deadlines of the forwards that were held before, by their rank in the batch (they keep it if held again). */
  deadlines?: Map<number, number>;
  /** A batch of forwards held before (then every one has a deadline): the latest of their deadlines. */
  heldUntil?: number;
  /** When it stopped growing (Date.now()); undefined while it is the open batch. */
  sealedAt?: number;
}

/** Whether `q` has waited long enough to bounce: its held stanzas' deadlines, else `ms` since it was sealed. */
function isExpired(q: QueuedBatch, now: number, ms: number): boolean {
  if (q.heldUntil !== undefined) return now >= q.heldUntil;
  return q.sealedAt !== undefined && now - q.sealedAt >= ms;
}

/** Since when every stanza of `q` has waited at least (for the log): first held, or sealed. */
export function waitingSince(q: QueuedBatch, ms: number): number {
  return q.heldUntil !== undefined ? q.heldUntil - ms : q.sealedAt!;
}

export class SendQueue {
  /** The last one is open (takes new forwards) unless sealed; never empty. */
  #batches: QueuedBatch[];
  #count = 0;

  constructor(private readonly from: string) {
    this.#batches = [this.#fresh()];
  }

  /** Forwards queued, in every batch. */
  get count(): number {
    return this.#count;
  }

  /** `deadline`: the forward was held before; it bounces once that has passed (with its batch, see above). */
  add(env: Envelope, chars: number, deadline: number | undefined, now: () => number): void {
    let open = this.#batches.at(-1)!;
    const held = deadline !== undefined;
    if (open.sealedAt !== undefined || (open.count > 0 && (open.chars + chars > MAX_BATCH_CHARS || (open.heldUntil !== undefined) !== held))) {
      open.sealedAt ??= now();
      this.#batches.push((open = this.#fresh()));
    }
    if (held) {
      (open.deadlines ??= new Map()).set(open.count, deadline);
      open.heldUntil = Math.max(open.heldUntil ?? deadline, deadline);
    }
    addItem(open.batch, env);
    open.count++;
    open.chars += chars;
    this.#count++;
  }

  /** The next batch to leave (the open one too), removed from the queue; undefined when nothing waits. */
  take(): QueuedBatch | undefined {
    const head = this.#batches[0]!;
    if (head.count === 0) return undefined;
    this.#batches.shift();
    if (this.#batches.length === 0) this.#batches.push(this.#fresh());
    this.#count -= head.count;
    return head;
  }

  /** Everything queued, in order; the queue is empty after. */
  takeAll(): QueuedBatch[] {
    const all = this.#batches.filter((b) => b.count > 0);
    this.#batches = [this.#fresh()];
    this.#count = 0;
    return all;
  }

  /** What is queued cannot leave now: the open batch stops growing, so its age bounds its stanzas' wait. */
  seal(now: number): void {
    const open = this.#batches.at(-1)!;
    if (open.count > 0) open.sealedAt ??= now;
  }

  /**
   * The batches that waited long enough (`isExpired`: sealed at least `ms` before `now`, or held
   * stanzas past their deadlines), removed from the queue, in order; what stays keeps its order.
   */
  expired(now: number, ms: number): QueuedBatch[] {
    if (this.#count === 0) return [];
    const out: QueuedBatch[] = [];
    const kept: QueuedBatch[] = [];
    for (const q of this.#batches) (q.count > 0 && isExpired(q, now, ms) ? out : kept).push(q);
    if (out.length === 0) return out;
    // The last batch stays the open one; if it went, a fresh one opens.
    this.#batches = kept.length > 0 ? kept : [this.#fresh()];
    for (const q of out) this.#count -= q.count;
    return out;
  }

  #fresh(): QueuedBatch {
    return { batch: newBatch(this.from), count: 0, chars: 0 };
  }
}

/**
 * A stanza's size in characters of XML: its received text when nothing changed it (what the wire
 * carries then, wire.ts), else an estimate from its tree (names, attributes, text), close enough to
 * bound a batch: it only ever goes as a tree, which the wire builds from the same parts.
 */
export function stanzaChars(stanza: XmlElement): number {
  return receivedText(stanza)?.length ?? treeChars(stanza);
}

function treeChars(e: XmlElement): number {
  let n = 2 * e.name.length + 5;
  const attrs = e.attrs;
  for (const key in attrs) n += key.length + attrs[key]!.length + 4;
  for (const c of e.children) n += typeof c === "string" ? c.length : treeChars(c);
  return n;
}
