/**
 * Dialback verification under pair ownership (docs/cluster.md#dialback). At most one outbound
 * stream per (local, remote) pair runs in the whole cluster, on the pair's owner; XEP-0220 §2.3
 * has the receiving server send its db:verify over that outbound stream to the authoritative
 * server. So a node that receives a db:result for a pair it does not own asks the owner, over
 * Redis, to send the db:verify for it (§2.1.2) and answers its inbound stream with the owner's
 * verdict (§2.2.1), or with a dialback error (§2.4) when the owner does not answer in time.
 *
 * Request and answer are one PUBLISH each on the nodes' verify channels
 * (`xs2s:verify:<version>:<node>`), matched by a correlation id; the asker's deadline is the
 * dialback timeout. Nothing is stored: a request whose owner does not listen is answered
 * remote-server-timeout at once (Redis says "no receiver"), one whose answer is lost at the deadline.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { DialbackVerdict, DialbackVerifier, DialbackVerifyRequest, Logger } from "../../core/index.js";

/** Changed whenever the message layout changes; part of the channel's name, as for the inbox (wire.ts). */
export const VERIFY_WIRE_VERSION = 1;

export function verifyChannel(node: string): string {
  return `xs2s:verify:${VERIFY_WIRE_VERSION}:${node}`;
}

/** What the relay needs from the cluster backend (redis-cluster.ts). */
export interface VerifyRelayHost {
  readonly node: string;
  readonly logger: Logger;
  /** The command connection while Redis is reachable, else undefined. */
  command(): Redis | undefined;
  /** The pair's owner: this node (it holds the lease or has just taken it) or another; throws when Redis cannot tell. */
  owner(local: string, remote: string): Promise<string>;
  /** This node's own verifier (the dialback plugin), to serve the other nodes' requests. */
  verifier(): DialbackVerifier | undefined;
  redisDown(err: Error): void;
}

/** On the wire: ["q", id, asker, local, remote, streamId, key] and ["a", id, verdict]. */
type Request = [kind: "q", id: string, from: string, local: string, remote: string, streamId: string, key: string];

/** XEP-0220 §2.4: an owner that does not answer is like an authoritative server that does not. */
const TIMEOUT: DialbackVerdict = { error: "remote-server-timeout" };

export class VerifyRelay {
  readonly channel: string;
  /** Requests this node asked, by correlation id. */
  readonly #pending = new Map<string, (verdict: DialbackVerdict | undefined) => void>();
  readonly #prefix = randomUUID();
  #seq = 0;

  constructor(private readonly host: VerifyRelayHost) {
    this.channel = verifyChannel(host.node);
  }

  /**
   * Cluster.verifyDialback: undefined means "verify here" (this node owns the pair or has just
   * taken it; Redis unreachable: availability first, as for stanzas, so a second stream to the
   * remote may open during an outage).
   */
  async verify(request: DialbackVerifyRequest, deadlineMs: number): Promise<DialbackVerdict | undefined> {
    if (!this.host.command()) return undefined;
    let owner: string;
    try {
      owner = await this.host.owner(request.local, request.remote);
    } catch (err) {
      this.host.redisDown(err as Error);
      return undefined;
    }
    if (owner === this.host.node) return undefined;
    return this.#ask(owner, request, deadlineMs);
  }

  #ask(owner: string, request: DialbackVerifyRequest, deadlineMs: number): Promise<DialbackVerdict | undefined> {
    const cmd = this.host.command();
    if (!cmd) return Promise.resolve(undefined);
    const id = `${this.#prefix}:${++this.#seq}`;
    const { local, remote } = request;
    return new Promise((resolve) => {
      // Real time, like the cluster's other timers: the deadline covers Redis and the other node.
      const timer = setTimeout(() => settle(TIMEOUT, `no answer from ${owner} within ${deadlineMs} ms`), deadlineMs);
      const settle = (verdict: DialbackVerdict | undefined, failure?: string) => {
        if (!this.#pending.delete(id)) return;
        clearTimeout(timer);
        if (failure) this.host.logger.info({ what: "dialback_verify_relay_failed", local, remote, owner, reason: failure });
        resolve(verdict);
      };
      this.#pending.set(id, (verdict) => settle(verdict));
      const message: Request = ["q", id, this.host.node, local, remote, request.id, request.key];
      this.host.logger.debug({ what: "dialback_verify_relayed", local, remote, owner });
      cmd.publish(verifyChannel(owner), JSON.stringify(message)).then(
        (receivers) => {
          if (receivers === 0) settle(TIMEOUT, `${owner} does not listen (dead or reconnecting)`);
        },
        (err: Error) => {
          // Redis failed under the request: verify here, as when it is unreachable from the start.
          this.host.redisDown(err);
          settle(undefined, `redis unavailable (verifying on this node): ${err.message}`);
        },
      );
    });
  }

  /** A message on this node's verify channel: a request to serve as the owner, or an answer. */
  onMessage(text: string): void {
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      m = undefined;
    }
    if (isRequest(m)) void this.#serve(m);
    else if (Array.isArray(m) && m[0] === "a" && typeof m[1] === "string") this.#pending.get(m[1])?.(verdictOf(m[2]));
    else this.host.logger.warn({ what: "cluster_message_invalid", channel: this.channel }, "a verify message this node does not understand (mixed versions?)");
  }

  /** As the owner: the db:verify on this node's stream for the pair (§2.3), opened if needed; then the verdict back. */
  async #serve([, id, from, local, remote, streamId, key]: Request): Promise<void> {
    const verifier = this.host.verifier();
    let verdict: DialbackVerdict;
    try {
      // No verifier: dialback is not enabled here (nodes configured differently): nobody can answer.
      verdict = verifier ? await verifier.verifyHere({ local, remote, id: streamId, key }) : TIMEOUT;
    } catch (err) {
      this.host.logger.error({ what: "dialback_verify_failed", local, remote, reason: (err as Error).message });
      verdict = TIMEOUT;
    }
    // Unreachable Redis: the asker reaches its deadline and answers remote-server-timeout.
    await this.host
      .command()
      ?.publish(verifyChannel(from), JSON.stringify(["a", id, verdict]))
      .catch((err: Error) => this.host.redisDown(err));
  }

  /** Shutdown: what this node still waits for is answered remote-server-timeout. */
  stop(): void {
    for (const settle of [...this.#pending.values()]) settle(TIMEOUT);
  }
}

function isRequest(m: unknown): m is Request {
  return Array.isArray(m) && m.length === 7 && m[0] === "q" && m.slice(1).every((v) => typeof v === "string");
}

/** Anything but a well-formed verdict reads as no answer (§2.4 remote-server-timeout). */
function verdictOf(v: unknown): DialbackVerdict {
  if (v === "valid" || v === "invalid") return v;
  if (typeof v === "object" && v !== null && typeof (v as { error?: unknown }).error === "string") return { error: (v as { error: string }).error };
  return TIMEOUT;
}
