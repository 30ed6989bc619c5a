/**
 * Flow control between nodes (docs/cluster.md "Backpressure"): Redis pub/sub pushes whatever is
 * published into the receiving node, so without it a node whose own deliveries are congested (a
 * component that does not read, an outbound S2S queue filling while it connects) would take in
 * everything the other nodes forward. Acknowledgement-based, per (sender, receiver) pair of nodes:
 *
 * - each batch carries a sequence number (wire.ts); the receiver acknowledges a batch once every
 *   stanza in it was handed to a local sink that took it without asking to pause (the sink's
 *   flow-control promise, LocalDelivery.backpressure / OutboundSessions.send, has settled), in
 *   order and cumulatively (`a <receiver> <handled> <received>`): every ACK_EVERY batches it
 *   handled at once, or as soon as a batch that had to wait is handled, at most one message per
 *   sender per turn of the event loop (an acknowledgement per stanza at light traffic cost a tenth
 *   of a millisecond per hop in `npm run bench -- --cluster`);
 * - the sender keeps at most WINDOW batches unacknowledged per receiving node; what is routed
 *   meanwhile waits in that node's queue, counted with the rest of the forwards in flight (past
 *   1,000 the producers pause, past 20,000 stanzas bounce resource-constraint, redis-cluster.ts);
 * - acknowledgements travel over pub/sub too and may be lost (a subscriber reconnecting), and the
 *   last few batches of a burst are not acknowledged unasked: a sender whose window has not moved
 *   for a retry tick asks (`q <sender> <last seq published>`); the
 *   answer's `received` tells which of its batches never arrived (lost with a Redis restart and
 *   counted by the nodes' forwarded/received counters), and an ask that finds no receiver frees
 *   the whole window (the node is gone or reconnecting: what follows is held as before).
 * Freeing the window never resends nor bounces: a stanza is accounted for once, when it is published.
 */

/** Batches on their way to one node, published and not acknowledged: beyond, the queue waits. */
export const WINDOW = 8;
/** A receiver that is keeping up acknowledges every this many batches (half the window: the sender never waits for it). */
export const ACK_EVERY = WINDOW / 2;

interface Unacked {
  readonly seq: number;
  /** Stanzas in the batch. */
  readonly count: number;
}

/** The sender's side, per destination node. */
export class SendWindow {
  #seq = 0;
  #unacked: Unacked[] = [];
  /** When the window last moved (a batch acknowledged, or the first one sent into an empty window). */
  #movedAt = 0;

  /** The sequence number of the next batch published. */
  next(): number {
    return ++this.#seq;
  }

  get full(): boolean {
    return this.#unacked.length >= WINDOW;
  }

  /** The last sequence number given out (an ask covers everything up to it). */
  get last(): number {
    return this.#seq;
  }

  /** Stanzas published and not acknowledged. */
  get pending(): number {
    let n = 0;
    for (const u of this.#unacked) n += u.count;
    return n;
  }

  /** Redis handed batch `seq` to the receiver's subscriber. */
  sent(seq: number, count: number, now: number): void {
    if (this.#unacked.length === 0) this.#movedAt = now;
    this.#unacked.push({ seq, count });
  }

  /**
   * An acknowledgement: every batch up to `handled` is done and, in an answer to an ask that
   * covered up to `upto`, the batches after `received` and up to `upto` never arrived. Returns
   * the stanzas freed.
   */
  ack(handled: number, received: number, upto: number | undefined, now: number): number {
    let freed = 0;
    const keep: Unacked[] = [];
    for (const u of this.#unacked) {
      if (u.seq <= handled || (upto !== undefined && u.seq > received && u.seq <= upto)) freed += u.count;
      else keep.push(u);
    }
    if (freed > 0) this.#movedAt = now;
    this.#unacked = keep;
    return freed;
  }

  /** The receiver does not listen (an ask found no subscriber): nothing will be acknowledged. */
  releaseAll(now: number): number {
    const freed = this.pending;
    this.#unacked = [];
    this.#movedAt = now;
    return freed;
  }

  /** Unacknowledged batches wait and nothing moved for `ms`: time to ask. */
  stuck(now: number, ms: number): boolean {
    return this.#unacked.length > 0 && now - this.#movedAt >= ms;
  }
}

interface Peer {
  /** The last batch received from this sender. */
  received: number;
  /** The last batch whose stanzas all went to sinks that did not ask to pause. */
  handled: number;
  /** The last `handled` acknowledged. */
  acked: number;
  /** Settles when the batches received so far are handled (in order); undefined when they are. */
  chain?: Promise<void>;
}

/** The receiver's side: per sending node, what to acknowledge. */
export class AckTracker {
  readonly #peers = new Map<string, Peer>();
  readonly #due = new Set<string>();
  #scheduled = false;

  /** `send(node, text)`: publish `text` on `node`'s inbox (errors are the sender's ask's business). */
  constructor(
    private readonly me: string,
    private readonly send: (node: string, text: string) => void,
  ) {}

  /** Batch `seq` from `from` was handed to local sinks; `pressures`: the flow-control promises they returned. */
  received(from: string, seq: number, pressures: readonly Promise<void>[]): void {
    let peer = this.#peers.get(from);
    // A lower number: the sender restarted (numbers start again); what waited for the old one is moot.
    if (!peer || seq <= peer.received) this.#peers.set(from, (peer = { received: 0, handled: 0, acked: 0 }));
    peer.received = seq;
    if (pressures.length === 0 && !peer.chain) {
      peer.handled = seq;
      if (peer.handled - peer.acked >= ACK_EVERY) this.#schedule(from);
      return;
    }
    const p = peer;
    const chain: Promise<void> = Promise.allSettled([peer.chain, ...pressures]).then(() => {
      p.handled = seq;
      if (p.chain === chain) p.chain = undefined;
      if (this.#peers.get(from) === p) this.#schedule(from);
    });
    peer.chain = chain;
  }

  /** `q <from> <upto>`: answered now, with `upto` echoed so that the sender knows what the answer covers. */
  ask(from: string, upto: number): void {
    const peer = this.#peers.get(from);
    if (peer) peer.acked = peer.handled;
    this.send(from, `a ${this.me} ${peer?.handled ?? 0} ${peer?.received ?? 0} ${upto}`);
  }

  #schedule(from: string): void {
    this.#due.add(from);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // One acknowledgement per sender per turn of the event loop, however many batches it covers.
    setImmediate(() => {
      this.#scheduled = false;
      for (const node of this.#due) {
        const peer = this.#peers.get(node);
        if (!peer || peer.acked === peer.handled) continue;
        peer.acked = peer.handled;
        this.send(node, `a ${this.me} ${peer.handled} ${peer.received}`);
      }
      this.#due.clear();
    });
  }
}

/** A flow-control message on an inbox: `a <node> <handled> <received> [<upto>]` or `q <node> <upto>`. */
export type Control =
  | { readonly kind: "ack"; readonly node: string; readonly handled: number; readonly received: number; readonly upto?: number }
  | { readonly kind: "ask"; readonly node: string; readonly upto: number };

/** Undefined for anything else (a batch starts with `[`). */
export function parseControl(text: string): Control | undefined {
  const parts = text.split(" ");
  const node = parts[1];
  if (!node) return undefined;
  if (parts[0] === "a" && (parts.length === 4 || parts.length === 5)) {
    const [handled, received, upto] = parts.slice(2).map(Number) as [number, number, number | undefined];
    if (!Number.isInteger(handled) || !Number.isInteger(received)) return undefined;
    return { kind: "ack", node, handled, received, upto: upto !== undefined && Number.isInteger(upto) ? upto : undefined };
  }
  if (parts[0] === "q" && parts.length === 3) {
    const upto = Number(parts[2]);
    return Number.isInteger(upto) ? { kind: "ask", node, upto } : undefined;
  }
  return undefined;
}
