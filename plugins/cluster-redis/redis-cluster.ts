/**
 * Cluster mode on Redis (docs/cluster.md). One object plays three parts:
 * - a LocalDelivery that serves the domains other nodes serve (their XEP-0114 components, and the
 *   hosts their embedding-API `stanzas$` subscribers take) and forwards stanzas for them to that
 *   node over pub/sub, holding them while that node's inbox has no receiver;
 * - the Cluster seam of the router: one owner node per (local, remote) outbound pair, held by a
 *   Redis lease (SET PX, renewed every third of lease_seconds); other nodes forward to it;
 * - the receiver of what other nodes forward to this one (channel `xs2s:in:<wire version>:<node>`).
 *
 * The same-node path costs no Redis round trip: routes are a local cache (refreshed every third of
 * the lease and on `xs2s:routes` messages), and a pair's owner is cached once known.
 *
 * Order: forwards to one node leave as batches, one at a time (the next batch is published once
 * Redis has answered the previous one), so when Redis answers "no receiver" nothing published
 * after it can overtake it: what was queued behind it is held behind it (see #flush).
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Subscription } from "rxjs";
import {
  type Cluster,
  type ClusterConfig,
  type ClusterSnapshot,
  type DialbackVerdict,
  type DialbackVerifier,
  type DialbackVerifyRequest,
  domainOf,
  type EmbedderSubscribers,
  ERROR_CODES,
  type EventBus,
  type LocalDelivery,
  type Logger,
  redactedUrl,
  type OutboundSessions,
  type Router,
  type StreamParserFactory,
  S2sError,
  withTimeout,
  type XmlElement,
} from "../../core/index.js";
import { AckTracker, parseControl, SendWindow, type Control } from "./flow.js";
import { createRedis, RedisStart, scanAll, type ScriptedRedis } from "./redis-connection.js";
import { commandTimeoutMs, RedisDeadline, RedisTimeoutError } from "./redis-deadline.js";
import { type QueuedBatch, SendQueue, stanzaChars, waitingSince } from "./send-queue.js";
import { encodeBatch, setSeq, WIRE_VERSION, WireReader, type Envelope } from "./wire.js";
import { VerifyRelay } from "./verify-relay.js";

export interface RedisClusterDeps {
  readonly config: ClusterConfig;
  /** `general.hosts`: the domains an embedding-API subscriber serves. */
  readonly hosts: readonly string[];
  readonly embedder?: EmbedderSubscribers;
  readonly logger: Logger;
  readonly events: EventBus;
  readonly router: () => Router;
  readonly outbound: () => OutboundSessions;
  /** This node's dialback verifier, run for the db:verify requests of other nodes (verify-relay.ts). */
  readonly verifier?: () => DialbackVerifier | undefined;
  /** The stream parser: builds the children of a stanza that crossed nodes as its text, when read (wire.ts). */
  readonly parsers: () => StreamParserFactory;
}

/** Stanzas held per pair (while its owner is found or taken over) or per node (while its inbox does not answer); then: resource-constraint. */
const MAX_HELD = 1000;
/**
 * Forwards queued (also behind a full window, flow.ts) or published and not yet answered by Redis:
 * above, producers pause; far above, bounce. Counted in stanzas and in characters of their XML
 * (send-queue.ts), so that big stanzas (the embedding API's `send` has no size limit and does
 * not pause) cannot fill memory before the count is reached.
 */
const HIGH_WATER = 1000;
const MAX_IN_FLIGHT = 20_000;
const HIGH_WATER_CHARS = 16 * 1024 * 1024;
const MAX_IN_FLIGHT_CHARS = 64 * 1024 * 1024;
/**
 * How long past lease_seconds a forward waits for the node it is meant for to take it (a takeover
 * of a dead node's pairs, a subscriber reconnecting, a receiver that is congested) before it bounces.
 */
const TAKEOVER_GRACE_MS = 5000;

/** The reason of a forward that waited too long for a node that takes nothing (#expireQueued). */
const EXPIRED = "not taken in time";

const EMBEDDER_PREFIX = "xs2s:embedder:";
const K = {
  node: (n: string) => `xs2s:node:${n}`,
  route: (d: string) => `xs2s:route:${d}`,
  /** An embedding-API subscriber of `node` serves `domain` (several nodes may). */
  embedder: (d: string, n: string) => `${EMBEDDER_PREFIX}${d}|${n}`,
  pair: (p: string) => `xs2s:pair:${p}`,
  /** Versioned: nodes of another wire version do not receive what they could not read. */
  inbox: (n: string) => `xs2s:in:${WIRE_VERSION}:${n}`,
  routes: "xs2s:routes",
};
/** On `xs2s:routes`: the node's inbox has a receiver again (it has just (re)subscribed). */
const UP = "up ";

interface PairState {
  readonly local: string;
  readonly remote: string;
  /** The node holding the lease, when known (this.node when it is us). */
  owner?: string;
  /** Stanzas waiting for an owner, in order; undefined when none wait. */
  held?: XmlElement[];
  /**
   * When each held stanza gives up and bounces, by its rank in `held`: lease_seconds + 5 s after
   * it first waited (kept when it is sent again and held or queued again).
   */
  deadlines?: number[];
  resolving?: boolean;
}

/**
 * A stanza for a local address served on another node. Held when its node's inbox has no
 * receiver (a subscriber reconnecting after a Redis restart, or a dead node).
 */
interface RouteForward {
  readonly kind: "route";
  readonly stanza: XmlElement;
  readonly domain: string;
  /** Set when first held: then it bounces remote-server-timeout (never silent). */
  deadline?: number;
  /** Queued and not held before: since when it has waited at least (see #failBatch). */
  waitedSince?: number;
}

/** A stanza for a pair owned by another node. */
interface PairForward {
  readonly kind: "pair";
  readonly local: string;
  readonly remote: string;
  readonly stanza: XmlElement;
  readonly st: PairState;
  /** Set when it was held before: it keeps its deadline if held again. */
  deadline?: number;
  /** Queued and not held before: since when it has waited at least (see #failBatch). */
  waitedSince?: number;
}

type Forward = RouteForward | PairForward;

/** The forwards on their way to one node: queued (as wire batches), whether a batch awaits Redis's answer, and the batches the node has not acknowledged. */
interface Link {
  readonly queue: SendQueue;
  busy: boolean;
  readonly window: SendWindow;
}

export class RedisCluster implements Cluster, LocalDelivery {
  readonly name = "cluster";
  readonly node: string;
  readonly #instance = randomUUID();
  readonly #leaseMs: number;
  /** The retry tick: held forwards are retried, unreachable inboxes probed, stuck windows asked. */
  readonly #retryMs: number;
  /** How long a forward waits for its node to take it, held or queued, before it bounces remote-server-timeout. */
  readonly #takeWithinMs: number;
  #cmd?: ScriptedRedis;
  #sub?: Redis;
  /** Domains served by other nodes -> node (cache). */
  #routes = new Map<string, string>();
  /** Live nodes (other than us), from their node leases. */
  #nodes = new Set<string>();
  /** Domains served here (connected components). */
  readonly #mine = new Set<string>();
  /** Hosts served by embedding-API subscribers of other nodes -> those nodes, sorted (cache). */
  #embedders = new Map<string, string[]>();
  /** This node publishes its hosts as embedder routes (its `stanzas$` has subscribers). */
  #embedding = false;
  readonly #pairs = new Map<string, PairState>();
  /** Route forwards that found no receiver, per node, in order (see #holdRoute). */
  #routeHeld = new Map<string, RouteForward[]>();
  /** The flow-control promise of the last route forward, for backpressure() right after deliver(). */
  #pressure?: Promise<void>;
  /** Until then, a route table refresh adds but never removes (Redis may have restarted empty, see #redisBack). */
  #stickyUntil = 0;
  /** The stanza being handed to the local chain after a forward: never forwarded again (no loops). */
  #receiving?: XmlElement;
  /** The domain a failed forward is being bounced from (see deliver). */
  #bouncingFrom?: string;
  /** Forwards queued or published and not yet answered by Redis (flow control). */
  #inFlight = 0;
  /** Their size, in characters of XML. */
  #inFlightChars = 0;
  /** Per destination node (see #forward). */
  readonly #links = new Map<string, Link>();
  #flushQueued = false;
  /** Nodes whose inbox answered "no receiver": forwards to them are held until it has one again (see #probe). */
  readonly #unreachable = new Set<string>();
  #router?: Router;
  #outboundSessions?: OutboundSessions;
  /** Forwards Redis accepted for a listening node, and forwards this node received (see snapshot). */
  #forwarded = 0;
  #received = 0;
  /** Forwards bounced because their node took nothing in time (#expireQueued). */
  #expired = 0;
  #drained?: { promise: Promise<void>; resolve: () => void };
  #redisUp = true;
  /** Every awaited command's deadline: a Redis that stops answering is an outage (redis-deadline.ts). */
  readonly #deadline: RedisDeadline;
  /** What this node acknowledges to the nodes forwarding to it (flow.ts). */
  readonly #acks: AckTracker;
  #timer?: NodeJS.Timeout;
  #retryTimer?: NodeJS.Timeout;
  #stopped = false;
  readonly #subscription: Subscription;
  readonly #embedderSubscription?: Subscription;
  /** db:verify through the pair's owner (verify-relay.ts). */
  readonly #verify: VerifyRelay;
  /** Reads the batches other nodes forward (made at the first one: the parser is resolved late). */
  #wire?: WireReader;

  constructor(private readonly deps: RedisClusterDeps) {
    this.node = deps.config.node;
    this.#leaseMs = deps.config.leaseMs;
    this.#retryMs = Math.max(100, Math.floor(this.#leaseMs / 10));
    this.#takeWithinMs = this.#leaseMs + TAKEOVER_GRACE_MS;
    this.#deadline = new RedisDeadline(commandTimeoutMs(this.#leaseMs), {
      timedOut: (err) => this.#redisDown(err),
      answered: () => this.#redisBack(),
    });
    this.#acks = new AckTracker(this.node, (node, text) => void this.#cmd?.publish(K.inbox(node), text).catch(() => undefined));
    this.#verify = new VerifyRelay({
      node: this.node,
      logger: deps.logger,
      command: () => (this.#ready() ? this.#cmd : undefined),
      owner: (local, remote) => this.#verifyOwner(local, remote),
      verifier: () => deps.verifier?.(),
      redisDown: (err) => this.#redisDown(err),
    });
    // Subscribed at registration, before any listener opens, so no component is missed.
    this.#subscription = deps.events.events$.subscribe((e) => {
      if (e.type === "component_connected") this.#publishRoute(e.domain, true);
      else if (e.type === "component_disconnected") this.#publishRoute(e.domain, false);
      else if (e.type === "closed") this.#releasePair(e.local, e.remote);
    });
    this.#embedderSubscription = deps.embedder?.subscribers$.subscribe((n) => this.#publishEmbedder(n > 0));
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    const url = this.deps.config.redisUrl;
    const cmd = createRedis(url, this.node);
    cmd.on("error", (err: Error) => this.#redisDown(err));
    // A restart that is over before the first reconnection attempt raises no error, only a close.
    cmd.on("close", () => this.#redisDown(new Error("connection closed")));
    cmd.on("ready", () => {
      this.#deadline.reset(); // a new connection: nothing is stalled on it
      this.#redisBack();
    });
    const start = new RedisStart(cmd, url, this.#deadline.timeoutMs);
    const holder = await start.step(async () => {
      await start.answer(cmd.connect());
      // Redis's clock against ours, for the publish deadlines (redis-deadline.ts).
      const sentAt = Date.now();
      const time = await start.answer(cmd.time());
      this.#deadline.noteTime(time.map(String), sentAt, Date.now());
      return start.answer(cmd.acquire(K.node(this.node), this.#instance, this.#leaseMs));
    });
    this.#cmd = cmd;
    if (holder !== this.#instance) {
      cmd.disconnect();
      throw new S2sError(ERROR_CODES.CLUSTER_UNAVAILABLE, `cluster.node: "${this.node}" is already the name of a running node (names must be unique; a stopped node's name frees within lease_seconds)`);
    }
    // Subscribed again by us after a reconnection (not by ioredis), to tell the other nodes when it is done.
    const sub = cmd.duplicate({ enableOfflineQueue: true, autoResubscribe: false, connectionName: `xs2s:${this.node}:sub` });
    sub.on("error", () => {}); // reported once by the command connection
    sub.on("messageBuffer", (channel: Buffer, message: Buffer) => this.#onMessage(channel.toString(), message.toString()));
    sub.on("ready", () => void this.#resubscribed());
    await start.step(() => start.answer(sub.subscribe(K.inbox(this.node), K.routes, this.#verify.channel)), sub);
    start.done();
    this.#sub = sub;
    void cmd.publish(K.routes, UP + this.node).catch(() => undefined); // a restarted node: others stop holding for it
    await this.#renew(true);
    // Real time, not the Clock: leases expire inside Redis on its own clock (PX), so renewal and
    // the retry of held forwards must keep pace with real time whatever a test does with virtual time.
    this.#timer = setInterval(() => void this.#renew(), Math.max(200, Math.floor(this.#leaseMs / 3)));
    this.#retryTimer = setInterval(() => {
      void this.#probe();
      this.#retryHeld();
      this.#askStuck();
      this.#expireQueued();
      this.#replaceIfStalled();
    }, this.#retryMs);
    this.deps.logger.info({ what: "cluster_started", node: this.node, redis: redactedUrl(url), leaseMs: this.#leaseMs });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#subscription.unsubscribe();
    this.#embedderSubscription?.unsubscribe();
    clearInterval(this.#timer);
    clearInterval(this.#retryTimer);
    this.#verify.stop();
    for (const [node, link] of this.#links) this.#failQueued(node, link, "shutdown");
    for (const st of this.#pairs.values()) this.#bounceHeld(st, "shutdown");
    for (const [node, held] of this.#routeHeld) for (const h of held) this.#bounceRoute(node, h, "shutdown");
    this.#routeHeld.clear();
    const cmd = this.#cmd;
    if (cmd && this.#ready()) {
      // Hand everything back at once so other nodes take over without waiting for the leases.
      const batch = cmd.pipeline();
      for (const d of this.#mine) batch.del(K.route(d)).publish(K.routes, `-${this.node} ${d}`);
      if (this.#embedding) for (const d of this.deps.hosts) batch.del(K.embedder(d, this.node)).publish(K.routes, `-${this.node} ${d} embedder`);
      for (const [key, st] of this.#pairs) if (st.owner === this.node) batch.del(K.pair(key));
      batch.del(K.node(this.node));
      await this.#deadline.within(batch.exec()).catch(() => undefined);
    }
    // QUIT waits for Redis's answer: a stalled Redis gets the timeout, then the socket is closed.
    const quit = (c: Redis | undefined) => c && withTimeout(c.quit(), this.#deadline.timeoutMs, () => new RedisTimeoutError(this.#deadline.timeoutMs)).catch(() => c.disconnect());
    await Promise.all([quit(this.#sub), quit(cmd)]);
  }

  /** Resolved once (per-stanza container lookups were a visible share of a hop's cost). */
  #routerNow(): Router {
    return (this.#router ??= this.deps.router());
  }

  #outbound(): OutboundSessions {
    return (this.#outboundSessions ??= this.deps.outbound());
  }

  /** Connected and answering (a stalled Redis is an outage too, see redis-deadline.ts). */
  #ready(): boolean {
    return this.#cmd?.status === "ready" && !this.#deadline.stalled;
  }

  /** Forwards queued (also behind a node's full window) or awaiting Redis's answer: what this node holds for other nodes. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Forwards bounced remote-server-timeout because their node took nothing for lease_seconds + 5 s (a congested receiver). */
  get expired(): number {
    return this.#expired;
  }

  snapshot(): ClusterSnapshot {
    return {
      node: this.node,
      nodes: [this.node, ...this.#nodes].sort(),
      routes: Object.fromEntries(this.#routes),
      embedders: Object.fromEntries(this.#embedders),
      served: Object.fromEntries([...[...this.#mine].map((d) => [d, "component"]), ...(this.#embedding ? this.deps.hosts.map((d) => [d, "embedder"]) : [])]),
      ownedPairs: [...this.#pairs].filter(([, st]) => st.owner === this.node).map(([key]) => key),
      pairs: Object.fromEntries([...this.#pairs].map(([key, st]) => [key, { owner: st.owner ?? null, held: st.held?.length ?? 0 }])),
      connected: this.#ready(),
      forwarded: this.#forwarded,
      received: this.#received,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Routes: LocalDelivery for domains served on other nodes

  servesDomain(domain: string): boolean {
    return this.#routes.has(domain) || domain === this.#bouncingFrom;
  }

  deliver(stanza: XmlElement): boolean {
    if (stanza === this.#receiving) return false;
    const domain = domainOf(stanza.attr("to"));
    const node = domain && this.#routeTo(domain);
    if (!node) return false;
    this.#pressure = this.#forwardRoute(node, { kind: "route", stanza, domain });
    return true;
  }

  /** The node serving `domain` for this stanza: its component's, or an embedding-API subscriber's when none listens here. */
  #routeTo(domain: string): string | undefined {
    const node = this.#routes.get(domain);
    if (node !== undefined || this.#embedders.size === 0) return node;
    // A local subscriber takes the stanza after the delivery chain (the router's fallback).
    if (this.deps.embedder && this.deps.embedder.subscribers > 0) return undefined;
    return this.#embedders.get(domain)?.[0];
  }

  /** LocalDelivery flow control: the router asks right after deliver() (the forward buffer is high). */
  backpressure(): Promise<void> | undefined {
    const pressure = this.#pressure;
    this.#pressure = undefined;
    return pressure;
  }

  #forwardRoute(node: string, h: RouteForward): Promise<void> | undefined {
    // Behind the stanzas already waiting for that node (order per node, so per pair, is kept), or
    // held at once when its inbox has no receiver.
    if (this.#routeHeld.has(node) || this.#unreachable.has(node)) {
      this.#holdRoute(node, h, h.deadline === undefined);
      return undefined;
    }
    return this.#forward(node, h);
  }

  #routeFailed(node: string, h: RouteForward, reason: string): void {
    // No receiver: the node's subscriber is reconnecting (Redis restarted) or the node died. Hold
    // like a pair forward does; sent again once its inbox has a receiver, or the route moves, or it bounces.
    if (reason === "no receiver") this.#holdRoute(node, h, h.deadline === undefined);
    else this.#bounceRoute(node, h, reason, reason === "forward buffer full" ? "resource-constraint" : "remote-server-timeout");
  }

  /** `report`: a hold starting is reported once (cluster_forward_failed), not at every retry. */
  #holdRoute(node: string, h: RouteForward, report = true): void {
    let held = this.#routeHeld.get(node);
    if (!held) {
      this.#routeHeld.set(node, (held = []));
      if (report) this.#forwardFailed(node, h.domain, "no receiver (holding)");
    }
    if (held.length >= MAX_HELD) return this.#bounceRoute(node, h, "too many stanzas waiting for the node", "resource-constraint");
    h.deadline ??= this.#firstDeadline(h);
    held.push(h);
  }

  /**
   * Route forwards waiting for a node: send again (to wherever the route points now, once that
   * node's inbox has a receiver), deliver here, or bounce past the deadline.
   */
  #retryRoutes(): void {
    if (this.#routeHeld.size === 0) return;
    const now = Date.now();
    const holds = this.#routeHeld;
    this.#routeHeld = new Map();
    for (const [node, held] of holds) {
      for (const h of held) {
        const target = this.#routeTo(h.domain);
        if (now >= h.deadline!) this.#bounceRoute(node, h, "no receiver in time");
        else if (target) void this.#forwardRoute(target, h);
        else if (this.#routerNow().isLocalDomain(h.domain)) void this.#deliverHere(h.stanza); // its component reconnected here
        else this.#holdRoute(node, h, false); // route gone (its node died): a reconnecting component may publish it again
      }
    }
  }

  /**
   * When a forward that is held now bounces: the deadline it got when first held, else the bound
   * (lease_seconds + 5 s) from when it began to wait: its batch's seal time if it was queued, or now.
   */
  #firstDeadline(f: Forward): number {
    return f.deadline ?? (f.waitedSince ?? Date.now()) + this.#takeWithinMs;
  }

  #bounceRoute(node: string, h: RouteForward, reason: string, condition = "remote-server-timeout"): void {
    this.#forwardFailed(node, h.domain, reason);
    // The error comes from `domain`, which must count as served here while it is sent, even if a
    // refresh dropped the route meanwhile (the router sends errors only from local domains).
    this.#bouncingFrom = h.domain;
    try {
      this.#routerNow().bounce(h.stanza, condition, "wait");
    } finally {
      this.#bouncingFrom = undefined;
    }
  }

  #publishRoute(domain: string, served: boolean): void {
    if (served) this.#mine.add(domain);
    else this.#mine.delete(domain);
    this.#routes.delete(domain);
    const cmd = this.#cmd;
    if (!cmd || !this.#ready()) return; // published by the next renewal once Redis is back
    const write = served ? cmd.set(K.route(domain), this.node, "PX", this.#leaseMs) : cmd.release(K.route(domain), this.node);
    void this.#deadline.within(write.then(() => cmd.publish(K.routes, `${served ? "+" : "-"}${this.node} ${domain}`))).catch((err: Error) => this.#redisDown(err));
  }

  /** The embedding API's `stanzas$` got its first subscriber (`on`) or lost its last. */
  #publishEmbedder(on: boolean): void {
    if (on === this.#embedding) return;
    this.#embedding = on;
    const cmd = this.#cmd;
    if (!cmd || !this.#ready()) return; // written by the next renewal (or start)
    const batch = cmd.pipeline();
    for (const d of this.deps.hosts) {
      if (on) batch.set(K.embedder(d, this.node), this.node, "PX", this.#leaseMs);
      else batch.del(K.embedder(d, this.node));
      batch.publish(K.routes, `${on ? "+" : "-"}${this.node} ${d} embedder`);
    }
    void this.#deadline.within(batch.exec()).catch((err: Error) => this.#redisDown(err));
  }

  // -------------------------------------------------------------------------------------------
  // Pairs: the router's seam

  sendOutbound(local: string, remote: string, stanza: XmlElement): Promise<void> | undefined {
    const st = this.#pairState(local, remote);
    if (!st.held) {
      if (st.owner === this.node) return this.#outbound().send(local, remote, stanza);
      if (st.owner && this.#nodes.has(st.owner) && !this.#unreachable.has(st.owner)) return this.#forwardPair(st, stanza);
    }
    // Behind the stanzas already held for the pair (order), or the first while its owner is found.
    // Only the first starts a look-up: the others wait for it, the retry tick or the owner's return.
    const first = st.held === undefined;
    if (this.#hold(st, stanza) && first) void this.#resolve(st);
    return undefined;
  }

  #pairState(local: string, remote: string): PairState {
    const key = `${local}|${remote}`;
    let st = this.#pairs.get(key);
    if (!st) this.#pairs.set(key, (st = { local, remote }));
    return st;
  }

  #forwardPair(st: PairState, stanza: XmlElement, deadline?: number): Promise<void> | undefined {
    return this.#forward(st.owner!, { kind: "pair", local: st.local, remote: st.remote, stanza, st, deadline });
  }

  #pairFailed(owner: string, f: PairForward, reason: string): void {
    const { st, stanza } = f;
    if (reason === "no receiver") {
      // The owner died holding the lease (or its subscriber is reconnecting): hold until its inbox
      // has a receiver again or its lease expires and this node takes over, or bounce at the
      // deadline (never silent).
      if (st.owner === owner) {
        st.owner = undefined;
        this.#forwardFailed(owner, `${st.local}|${st.remote}`, "no receiver (holding)");
      }
      this.#hold(st, stanza, this.#firstDeadline(f));
    } else if (reason === "redis unavailable") {
      // Availability first, as in #resolve: this node sends while Redis is away; the renewal
      // after it is back settles one owner again (cluster_lease_lost, then forwards).
      this.#forwardFailed(owner, `${st.local}|${st.remote}`, "redis unavailable (sending from this node)");
      if (st.owner === owner) st.owner = this.node;
      void this.#outbound().send(st.local, st.remote, stanza);
    } else {
      this.#forwardFailed(owner, `${st.local}|${st.remote}`, reason);
      if (reason === "forward buffer full") this.#routerNow().bounce(stanza, "resource-constraint", "wait", "too many stanzas waiting for the cluster");
      else this.#routerNow().bounce(stanza, "remote-server-timeout", "wait"); // shutdown, or its owner took nothing in time
    }
  }

  /** `deadline`: the stanza was held before and keeps its first deadline. */
  #hold(st: PairState, stanza: XmlElement, deadline?: number): boolean {
    st.held ??= [];
    if (st.held.length >= MAX_HELD) {
      this.#routerNow().bounce(stanza, "resource-constraint", "wait", "too many stanzas waiting for the cluster");
      return false;
    }
    st.held.push(stanza);
    (st.deadlines ??= []).push(deadline ?? Date.now() + this.#takeWithinMs);
    return true;
  }

  /** Find or take the pair's lease, then send what is held, in order. */
  async #resolve(st: PairState): Promise<void> {
    if (st.resolving || this.#stopped) return;
    st.resolving = true;
    try {
      // A Redis that accepts the connection but does not answer must not hold the pair forever:
      // stalled already, it is not asked (the catch below sends from here at once).
      if (!this.#ready()) throw new Error("Redis unavailable");
      const owner = await this.#deadline.within(this.#cmd!.acquire(K.pair(`${st.local}|${st.remote}`), this.node, this.#leaseMs));
      if (owner === this.node && st.owner !== this.node) {
        this.deps.events.emit({ type: "cluster_lease_taken", local: st.local, remote: st.remote, node: this.node });
        this.deps.logger.info({ what: "cluster_lease_taken", local: st.local, remote: st.remote, node: this.node });
      }
      // An owner whose inbox has no receiver keeps the stanzas held: sent once it has one again
      // (#probe, or its announcement) or once its lease expires and this node takes the pair.
      if (owner !== this.node && (!this.#nodes.has(owner) || this.#unreachable.has(owner))) return;
      this.#flushHeld(st, owner);
    } catch (err) {
      // Redis unavailable: nobody can decide who sends for this pair. Availability first: this
      // node sends (and renews the lease once Redis is back; losing it then to a node that took it
      // meanwhile means forwarding again). Only during an outage can a pair have two streams.
      this.#redisDown(err as Error);
      this.#flushHeld(st, this.node);
    } finally {
      st.resolving = false;
    }
  }

  #flushHeld(st: PairState, owner: string): void {
    st.owner = owner;
    const held = st.held ?? [];
    const deadlines = st.deadlines ?? [];
    st.held = undefined;
    st.deadlines = undefined;
    held.forEach((stanza, i) => {
      if (owner === this.node) void this.#outbound().send(st.local, st.remote, stanza);
      else void this.#forwardPair(st, stanza, deadlines[i]);
    });
  }

  /** Every tenth of the lease, and as soon as a node's inbox answers again: send what waits, or bounce it past its deadline. */
  #retryHeld(): void {
    this.#retryRoutes();
    const now = Date.now();
    for (const st of this.#pairs.values()) {
      if (!st.held) continue;
      this.#bounceHeld(st, "no owner took over in time", now);
      if (st.held) void this.#resolve(st);
    }
  }

  /**
   * Bounce the held stanzas whose deadline is `now` or earlier (all of them without `now`). Those
   * that stay keep their order: a bounced stanza is never delivered, so none is overtaken.
   */
  #bounceHeld(st: PairState, reason: string, now = Infinity): void {
    const held = st.held ?? [];
    const deadlines = st.deadlines ?? [];
    const bounced = held.filter((_, i) => deadlines[i]! <= now);
    if (bounced.length === 0) return;
    if (bounced.length === held.length) {
      st.held = undefined;
      st.deadlines = undefined;
    } else {
      st.held = held.filter((_, i) => deadlines[i]! > now);
      st.deadlines = deadlines.filter((d) => d > now);
    }
    this.#forwardFailed(st.owner ?? "(none)", `${st.local}|${st.remote}`, reason);
    for (const stanza of bounced) this.#routerNow().bounce(stanza, "remote-server-timeout", "wait");
  }

  #releasePair(local: string, remote: string): void {
    const key = `${local}|${remote}`;
    const st = this.#pairs.get(key);
    if (!st || st.owner !== this.node || st.held) return;
    // The outbound session closed (idle or shut down): free the pair for whichever node needs it next.
    this.#pairs.delete(key);
    void this.#cmd?.release(K.pair(key), this.node).catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Dialback verification under pair ownership: the hooks of verify-relay.ts

  verifyDialback(request: DialbackVerifyRequest, deadlineMs: number): Promise<DialbackVerdict | undefined> {
    return this.#verify.verify(request, deadlineMs);
  }

  /** Who sends db:verify for the pair: its known owner, else whoever holds the lease, taken now when free (as by a first stanza, #resolve). */
  async #verifyOwner(local: string, remote: string): Promise<string> {
    const st = this.#pairState(local, remote);
    if (st.owner !== undefined && !st.held) return st.owner;
    // A stalled Redis answers within its command deadline or is an outage (then: verify here).
    const owner = await this.#deadline.within(this.#cmd!.acquire(K.pair(`${local}|${remote}`), this.node, this.#leaseMs));
    if (st.held) return owner; // stanzas wait for the owner: #resolve records it and sends them
    if (owner === this.node && st.owner !== this.node) {
      this.deps.events.emit({ type: "cluster_lease_taken", local, remote, node: this.node });
      this.deps.logger.info({ what: "cluster_lease_taken", local, remote, node: this.node });
    }
    st.owner = owner;
    return owner;
  }

  // -------------------------------------------------------------------------------------------
  // Forwarding between nodes

  /**
   * Queue for `node`'s inbox, as a wire tree (the element dies young, see wire.ts); what is
   * queued for a node leaves as batches of at most MAX_BATCH_CHARS (send-queue.ts), one PUBLISH
   * each, at the end of this turn of the event loop or, while a batch to that node awaits Redis's
   * answer, once it has come (per-node order, see #flush).
   * #failed runs once per forward when Redis is unreachable or nobody listens on that inbox.
   */
  #forward(node: string, f: Forward): Promise<void> | undefined {
    let link = this.#links.get(node);
    // Redis unavailable: fail at once (bounce, or send a pair's stanza from here), unless a batch
    // to that node still awaits Redis's answer: then it queues behind that batch and fails with
    // it, in order (sent from here now, it would leave before the older stanzas of its pair).
    const down = !this.#ready() && !link?.busy;
    if (down || this.#inFlight >= MAX_IN_FLIGHT || this.#inFlightChars >= MAX_IN_FLIGHT_CHARS) {
      this.#failed(node, f, down ? "redis unavailable" : "forward buffer full");
      return undefined;
    }
    const chars = stanzaChars(f.stanza);
    this.#inFlight++;
    this.#inFlightChars += chars;
    if (!link) this.#links.set(node, (link = { queue: new SendQueue(this.node), busy: false, window: new SendWindow() }));
    link.queue.add(f, chars, f.deadline, Date.now);
    if (!link.busy && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flushAll());
    }
    if (this.#inFlight < HIGH_WATER && this.#inFlightChars < HIGH_WATER_CHARS) return undefined;
    // Flow control: the producer (a component socket) pauses until Redis has caught up.
    if (!this.#drained) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#drained = { promise, resolve };
    }
    return this.#drained.promise;
  }

  #flushAll(): void {
    this.#flushQueued = false;
    for (const [node, link] of this.#links) this.#flush(node, link);
  }

  /**
   * Publish what is queued for `node` unless a batch to it awaits Redis's answer or `node` has
   * WINDOW batches unacknowledged (flow.ts). One batch at a time per node: were a second published
   * before the first's answer, it could reach a receiver that came back in between while the
   * first, answered "no receiver", is held: an overtaking. The publish carries a deadline on
   * Redis's clock, so one that Redis runs after we gave up on it is dropped, not delivered twice.
   */
  #flush(node: string, link: Link): void {
    const cmd = this.#cmd;
    if (link.busy || !cmd) return;
    // Queued behind a batch that Redis answered after the outage began (#forward): no publish now.
    if (!this.#ready()) return this.#failQueued(node, link, "redis unavailable");
    if (link.window.full) return;
    const queued = link.queue.take();
    if (!queued) return;
    const seq = link.window.next();
    setSeq(queued.batch, seq);
    const text = encodeBatch(queued.batch);
    const { count, chars } = queued;
    link.busy = true;
    this.#deadline.within(cmd.publishBy(K.inbox(node), this.#deadline.publishDeadline(), text)).then(
      (receivers) => {
        link.busy = false;
        this.#settled(count, chars);
        if (receivers > 0) {
          // In the window until the receiver acknowledges it (#onAck): what follows waits in the queue.
          this.#forwarded += count;
          link.window.sent(seq, count, Date.now());
          this.#flush(node, link);
          return;
        }
        if (receivers < 0) {
          // Redis ran it after its deadline (it had stalled): not delivered; an outage for these.
          this.#failBatch(node, text, queued, "redis unavailable");
          this.#failQueued(node, link, "redis unavailable");
          return;
        }
        // Nobody listens: hold these, and what was queued behind them, in order. Its "up" may
        // have come before this answer (another connection): one probe tells at once.
        this.#unreachable.add(node);
        this.#failBatch(node, text, queued, "no receiver");
        this.#failQueued(node, link, "no receiver");
        void this.#probe();
      },
      (err: Error) => {
        link.busy = false;
        this.#settled(count, chars);
        // The batch first, then what was queued behind it, then the outage (which fails other links' queues).
        this.#failBatch(node, text, queued, "redis unavailable");
        this.#failQueued(node, link, "redis unavailable");
        this.#redisDown(err);
      },
    );
  }

  /** An acknowledgement from `c.node` (flow.ts): its window moves and what waits behind it leaves. */
  #onAck(c: Extract<Control, { kind: "ack" }>): void {
    const link = this.#links.get(c.node);
    if (!link) return;
    if (link.window.ack(c.handled, c.received, c.upto, Date.now()) > 0) this.#flush(c.node, link);
  }

  /**
   * Every retry tick: a node whose window has not moved for a tick is asked where it is (its
   * acknowledgement may have been lost). No receiver: it is gone or reconnecting, the window is freed.
   */
  #askStuck(): void {
    const cmd = this.#cmd;
    if (!cmd || !this.#ready()) return;
    const now = Date.now();
    for (const [node, link] of this.#links) {
      if (!link.window.stuck(now, this.#retryMs)) continue;
      // Its node lease expired: it is dead even if Redis still counts its subscriber (a lost host).
      if (!this.#nodes.has(node)) {
        this.#freeWindow(node, link);
        continue;
      }
      this.#deadline.within(cmd.publish(K.inbox(node), `q ${this.node} ${link.window.last}`)).then(
        (receivers) => {
          if (receivers === 0) this.#freeWindow(node, link);
        },
        (err: Error) => this.#redisDown(err),
      );
    }
  }

  /** Nothing will be acknowledged by `node`: what was on its way is counted lost (forwarded - received), what waits leaves. */
  #freeWindow(node: string, link: Link): void {
    if (link.window.releaseAll(Date.now()) > 0) this.#flush(node, link);
  }

  /** The forwards queued for `node` and not published: failed like the batch before them. */
  #failQueued(node: string, link: Link, reason: string): void {
    for (const queued of link.queue.takeAll()) {
      this.#settled(queued.count, queued.chars);
      this.#failBatch(node, encodeBatch(queued.batch), queued, reason);
    }
  }

  /**
   * Every retry tick: what waits for a node that takes nothing (its window full: a sink that stays
   * congested, such as a component that never reads again yet keeps its connection) bounces
   * remote-server-timeout once it has waited as long as a stanza held for a dead node may
   * (lease_seconds + 5 s); a forward held before (for a dead node, or one whose inbox had no
   * receiver) counts from when it was first held, so held then queued it still waits that bound
   * once, not twice (send-queue.ts). Only batches never published are given up on (send-queue.ts): what the
   * node was handed is its own to deliver, so a stanza is never bounced here and delivered there.
   * The condition, RFC 6120 §8.3.3.16 remote-server-timeout (type wait): the server that must
   * deliver was reached but took no delivery within a reasonable time, as for a node that died;
   * resource-constraint (§8.3.3.18) stays the immediate answer of a full buffer.
   */
  #expireQueued(): void {
    const now = Date.now();
    for (const [node, link] of this.#links) {
      if (link.queue.count === 0) continue;
      if (link.busy || link.window.full) link.queue.seal(now);
      const expired = link.queue.expired(now, this.#takeWithinMs);
      if (expired.length === 0) continue;
      const count = expired.reduce((n, q) => n + q.count, 0);
      this.#expired += count;
      this.deps.logger.warn({ what: "cluster_forward_expired", node, count, waitedMs: now - Math.min(...expired.map((q) => waitingSince(q, this.#takeWithinMs))), unacknowledged: link.window.pending }, "a node took nothing in time: its queued forwards bounce");
      for (const queued of expired) {
        this.#settled(queued.count, queued.chars);
        this.#failBatch(node, encodeBatch(queued.batch), queued, EXPIRED);
      }
    }
  }

  /**
   * The rare path: the batch is decoded back into forwards, each failed in order. Held again, a
   * forward keeps its first deadline; one never held before counts its wait from when its batch
   * was sealed (stopped growing: each has waited at least since), so queued then held it still
   * waits the bound once, not its time in the queue plus the bound (send-queue.ts).
   */
  #failBatch(node: string, text: string, queued: Pick<QueuedBatch, "deadlines" | "sealedAt">, reason: string): void {
    const batch = this.#decode(text);
    const waitedSince = queued.sealedAt;
    batch?.envelopes.forEach((env, i) => {
      const deadline = queued.deadlines?.get(i);
      if (env.kind === "route") this.#failed(node, { kind: "route", stanza: env.stanza, domain: domainOf(env.stanza.attr("to")) ?? "", deadline, waitedSince }, reason);
      else this.#failed(node, { kind: "pair", local: env.local, remote: env.remote, stanza: env.stanza, st: this.#pairState(env.local, env.remote), deadline, waitedSince }, reason);
    });
  }

  /** The forward did not reach `node`: each kind decides (hold, send here, or bounce) and reports it. */
  #failed(node: string, f: Forward, reason: string): void {
    const why = this.#stopped ? "shutdown" : reason;
    if (f.kind === "route") this.#routeFailed(node, f, why);
    else this.#pairFailed(node, f, why);
  }

  /**
   * `up <node>`: its node lease is written before it subscribes, so it is alive: known now (not
   * at the next table refresh), and what waits for it (held forwards, pairs it owns) leaves.
   */
  #nodeUp(node: string): void {
    if (node === this.node || this.#stopped) return;
    if (!this.#nodes.has(node)) {
      this.#nodes.add(node);
      this.#nodeEvent("cluster_node_joined", node);
    }
    if (this.#unreachable.has(node)) this.#reachable(node);
    else this.#retryHeld();
  }

  /** `node`'s inbox has a receiver again: what waits for it is sent now, not at the next retry tick. */
  #reachable(node: string): void {
    if (!this.#unreachable.delete(node) || this.#stopped) return;
    this.#retryHeld();
  }

  /**
   * Every retry tick while some node's inbox answered "no receiver": one PUBSUB NUMSUB for all of
   * them (not a publish per held stanza). A node that died stays unreachable until it leaves the
   * node table; one that was only reconnecting is reachable again.
   */
  async #probe(): Promise<void> {
    const cmd = this.#cmd;
    if (this.#unreachable.size === 0 || !cmd || !this.#ready()) return;
    for (const node of this.#unreachable) if (!this.#nodes.has(node) && !this.#routeHeld.has(node)) this.#unreachable.delete(node);
    const nodes = [...this.#unreachable];
    if (nodes.length === 0) return;
    try {
      const counts = (await this.#deadline.within(cmd.pubsub("NUMSUB", ...nodes.map(K.inbox)))) as Array<string | number>;
      nodes.forEach((node, i) => {
        if (Number(counts[2 * i + 1]) > 0) this.#reachable(node);
      });
    } catch (err) {
      this.#redisDown(err as Error);
    }
  }

  /** The subscriber connection is back (after a Redis restart or a cut): subscribe again, then say so. */
  async #resubscribed(): Promise<void> {
    const sub = this.#sub;
    if (!sub || this.#stopped) return;
    try {
      await sub.subscribe(K.inbox(this.node), K.routes, this.#verify.channel);
      await this.#cmd?.publish(K.routes, UP + this.node);
      void this.#probe(); // an announcement of another node may have come while this one was away
    } catch {
      // Not connected after all: the next "ready" tries again.
    }
  }

  #settled(count: number, chars: number): void {
    this.#inFlight -= count;
    this.#inFlightChars -= chars;
    if (this.#drained && this.#inFlight < HIGH_WATER / 2 && this.#inFlightChars < HIGH_WATER_CHARS / 2) {
      this.#drained.resolve();
      this.#drained = undefined;
    }
  }

  #forwardFailed(node: string, to: string, reason: string): void {
    this.deps.events.emit({ type: "cluster_forward_failed", node, to, reason });
    // Expired forwards are logged once per batch (cluster_forward_expired), not once per stanza.
    if (reason !== EXPIRED) this.deps.logger.info({ what: "cluster_forward_failed", node, to, reason });
  }

  #decode(text: string): ReturnType<WireReader["decode"]> {
    this.#wire ??= new WireReader(this.deps.parsers(), (reason) =>
      this.deps.logger.error({ what: "cluster_stanza_unparsable", node: this.node, reason }, "the children of a forwarded stanza did not parse from its text: it goes on without them"),
    );
    const batch = this.#wire.decode(text);
    if (batch && batch.unparsable > 0) {
      // Never expected (the sending node framed each text it had read): counted and logged, not hidden.
      this.deps.logger.error({ what: "cluster_stanza_unparsable", node: batch.from, count: batch.unparsable }, "forwarded stanzas whose frame did not add up were dropped");
    }
    return batch;
  }

  #onMessage(channel: string, text: string): void {
    if (channel === K.routes) return this.#onRouteChange(text);
    if (channel === this.#verify.channel) return this.#verify.onMessage(text);
    const batch = text.startsWith("[") ? this.#decode(text) : undefined;
    if (!batch) {
      const control = parseControl(text);
      if (control?.kind === "ack") this.#onAck(control);
      else if (control?.kind === "ask") this.#acks.ask(control.node, control.upto);
      else this.deps.logger.warn({ what: "cluster_message_invalid", channel }, "a message this node does not understand (mixed versions?)");
      return;
    }
    this.#received += batch.envelopes.length;
    // Acknowledged once every sink took its stanzas without asking to pause (flow.ts).
    const pressures: Promise<void>[] = [];
    for (const env of batch.envelopes) {
      const pressure = this.#receive(env);
      // A congested sink returns the same promise for every stanza it takes: kept once.
      if (pressure && pressure !== pressures.at(-1)) pressures.push(pressure);
    }
    this.#acks.received(batch.from, batch.seq, pressures);
  }

  #receive(env: Envelope): Promise<void> | undefined {
    // Sent to us as the owner: send here even if the lease moved meanwhile (no ping-pong).
    if (env.kind === "pair") return this.#outbound().send(env.local, env.remote, env.stanza);
    return this.#deliverHere(env.stanza);
  }

  /**
   * To the local delivery chain, never forwarded again (no loops between nodes); the promise of a
   * delivery that is congested (LocalDelivery.backpressure) or of a sink that is (a component that
   * does not read: Router.congestion).
   */
  #deliverHere(stanza: XmlElement): Promise<void> | undefined {
    this.#receiving = stanza;
    try {
      const router = this.#routerNow();
      return router.deliverLocal(stanza) ?? router.congestion?.(stanza);
    } finally {
      this.#receiving = undefined;
    }
  }

  /** `+node domain` / `-node domain` (a component), with ` embedder` (an embedding-API subscriber). */
  #onRouteChange(text: string): void {
    if (text.startsWith(UP)) return this.#nodeUp(text.slice(UP.length));
    const m = /^([+-])(\S+) (\S+)( embedder)?$/.exec(text);
    if (!m || m[2] === this.node) return;
    const [, sign, node, domain, embedder] = m as unknown as [string, string, string, string, string | undefined];
    if (embedder) setEmbedder(this.#embedders, domain, node, sign === "+");
    else if (sign === "+") this.#routes.set(domain, node);
    else if (this.#routes.get(domain) === node) this.#routes.delete(domain);
  }

  // -------------------------------------------------------------------------------------------
  // Leases and the route table, every third of lease_seconds

  /** `announce`: also tell the other nodes about our routes now (after a reconnection), not at their next refresh. */
  async #renew(announce = false): Promise<void> {
    const cmd = this.#cmd;
    if (!cmd || !this.#ready() || this.#stopped) return;
    try {
      const owned = [...this.#pairs].filter(([, st]) => st.owner === this.node);
      // Counted now: a component may connect or leave while exec() is awaited.
      const routeCount = this.#mine.size;
      // defineCommand adds `acquire` to pipelines too; ioredis's types do not know it.
      const batch = cmd.pipeline() as ReturnType<Redis["pipeline"]> & { acquire(key: string, holder: string, ms: number): unknown };
      batch.acquire(K.node(this.node), this.#instance, this.#leaseMs);
      for (const d of this.#mine) batch.set(K.route(d), this.node, "PX", this.#leaseMs);
      for (const [key] of owned) batch.acquire(K.pair(key), this.node, this.#leaseMs);
      if (this.#embedding) for (const d of this.deps.hosts) batch.set(K.embedder(d, this.node), this.node, "PX", this.#leaseMs);
      if (announce) for (const d of this.#mine) batch.publish(K.routes, `+${this.node} ${d}`);
      if (announce && this.#embedding) for (const d of this.deps.hosts) batch.publish(K.routes, `+${this.node} ${d} embedder`);
      batch.time(); // last: the indexes above stay as they are
      const sentAt = Date.now();
      const results = (await this.#deadline.within(batch.exec())) ?? [];
      const time = results.at(-1)?.[1];
      if (Array.isArray(time)) this.#deadline.noteTime(time.map(String), sentAt, Date.now());
      owned.forEach(([key, st], i) => {
        const [err, holder] = results[1 + routeCount + i] ?? [];
        if (err || holder === this.node) return;
        st.owner = String(holder);
        this.deps.events.emit({ type: "cluster_lease_lost", local: st.local, remote: st.remote, node: this.node, owner: st.owner });
        this.deps.logger.warn({ what: "cluster_lease_lost", local: st.local, remote: st.remote, node: this.node, owner: st.owner, key });
      });
      await this.#refreshTables(cmd);
    } catch (err) {
      this.#redisDown(err as Error);
    }
  }

  async #refreshTables(cmd: Redis): Promise<void> {
    const within = <T>(work: Promise<T>) => this.#deadline.within(work);
    const nodeKeys = await scanAll(cmd, K.node("*"), within);
    const nodes = new Set(nodeKeys.map((k) => k.slice(K.node("").length)).filter((n) => n !== this.node));
    // Right after a reconnection Redis may have restarted empty while the other nodes have not
    // written their keys again yet: for one lease, learn but forget nothing (a route dropped here
    // would make its domain non-local and refuse the streams that carry stanzas for it).
    const sticky = Date.now() < this.#stickyUntil;
    if (sticky) for (const n of this.#nodes) nodes.add(n);
    for (const n of nodes) if (!this.#nodes.has(n)) this.#nodeEvent("cluster_node_joined", n);
    for (const n of this.#nodes) if (!nodes.has(n)) this.#nodeEvent("cluster_node_left", n);
    this.#nodes = nodes;
    const routeKeys = await scanAll(cmd, K.route("*"), within);
    const owners = routeKeys.length ? await within(cmd.mget(routeKeys)) : [];
    const routes = sticky ? new Map([...this.#routes].filter(([d]) => !this.#mine.has(d))) : new Map<string, string>();
    routeKeys.forEach((k, i) => {
      const node = owners[i];
      const domain = k.slice(K.route("").length);
      if (node && node !== this.node && nodes.has(node) && !this.#mine.has(domain)) routes.set(domain, node);
    });
    this.#routes = routes;
    const embedderKeys = await scanAll(cmd, `${EMBEDDER_PREFIX}*`, within);
    const embedders = new Map<string, string[]>();
    if (sticky) for (const [d, ns] of this.#embedders) embedders.set(d, [...ns]);
    for (const k of embedderKeys) {
      const [domain, node] = splitLast(k.slice(EMBEDDER_PREFIX.length), "|");
      if (node !== this.node && nodes.has(node)) setEmbedder(embedders, domain, node, true);
    }
    this.#embedders = embedders;
  }

  #nodeEvent(type: "cluster_node_joined" | "cluster_node_left", node: string): void {
    this.deps.events.emit({ type, node });
    this.deps.logger.info({ what: type, node });
  }

  /**
   * Redis has answered nothing for a lease (frozen, or the path died without a reset: TCP would
   * retransmit for many minutes): both connections are closed and opened again by ioredis, once
   * per stall. Still stalled or not, "ready" on the new connection ends the outage.
   */
  #replaceIfStalled(): void {
    if (this.#stopped || !this.#deadline.replaceAfter(this.#leaseMs, Date.now())) return;
    this.deps.logger.warn({ what: "cluster_redis_reconnecting", node: this.node, reason: `no answer for ${this.#leaseMs} ms` });
    this.#cmd?.disconnect(true);
    this.#sub?.disconnect(true);
  }

  /** Logged once per outage, not once per failed command. */
  #redisDown(err: Error): void {
    if (!this.#redisUp || this.#stopped) return;
    this.#redisUp = false;
    this.deps.events.emit({ type: "cluster_redis_unavailable", node: this.node, reason: err.message });
    this.deps.logger.warn({ what: "cluster_redis_unavailable", node: this.node, reason: err.message }, "Redis unreachable: serving what this node owns, cross-node stanzas bounce until it is back");
    // What waits behind a full window waits for acknowledgements, which travel through Redis: it
    // fails now, in order, before anything routed from now on (which fails at once, #forward). A
    // batch awaiting Redis's answer fails at its deadline together with what is queued behind it.
    for (const [node, link] of this.#links) if (!link.busy) this.#failQueued(node, link, "redis unavailable");
  }

  #redisBack(): void {
    if (this.#redisUp || this.#stopped) return;
    this.#redisUp = true;
    this.#stickyUntil = Date.now() + this.#leaseMs;
    this.deps.events.emit({ type: "cluster_redis_reconnected", node: this.node });
    this.deps.logger.info({ what: "cluster_redis_reconnected", node: this.node });
    // Redis may have restarted empty: write and announce routes and leases again now, then send
    // what waits for nodes whose inboxes answer again.
    void this.#renew(true).then(() => this.#probe());
  }
}

/** Adds or removes `node` among the embedder nodes of `domain` (kept sorted: every node picks the same first). */
function setEmbedder(table: Map<string, string[]>, domain: string, node: string, on: boolean): void {
  const nodes = (table.get(domain) ?? []).filter((n) => n !== node);
  if (on) nodes.push(node);
  if (nodes.length === 0) table.delete(domain);
  else table.set(domain, nodes.sort());
}

function splitLast(text: string, sep: string): [string, string] {
  const i = text.lastIndexOf(sep);
  return [text.slice(0, i), text.slice(i + 1)];
}
