/**
 * The cluster's Redis connection (docs/cluster.md): the client's options and scripts, and the
 * start-up steps, each within the command timeout, whose failure is the exit-1 message naming
 * `cluster.redis_url`.
 */
import { Redis, type RedisOptions } from "ioredis";
import { ERROR_CODES, redactedUrl, S2sError, withTimeout } from "../../core/index.js";
import { RedisTimeoutError } from "./redis-deadline.js";
import { ACQUIRE, PUBLISH_BY, RELEASE } from "./scripts.js";

/** The client with the cluster's scripts (scripts.ts) as commands. */
export type ScriptedRedis = Redis & {
  acquire(key: string, holder: string, ms: number): Promise<string>;
  release(key: string, holder: string): Promise<number>;
  publishBy(channel: string, deadline: number, message: string): Promise<number>;
};

/** The command connection of node `node`, not connected yet (see RedisStart). */
export function createRedis(url: string, node: string): ScriptedRedis {
  const options: RedisOptions = {
    lazyConnect: true,
    // Fail fast while Redis is away (cross-node stanzas bounce remote-server-timeout) instead of
    // queueing without bound in the client; ioredis reconnects by itself with this backoff.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    // CLIENT LIST shows which node each connection belongs to.
    connectionName: `xs2s:${node}`,
  };
  const cmd = new Redis(url, options) as ScriptedRedis;
  cmd.defineCommand("acquire", { numberOfKeys: 1, lua: ACQUIRE });
  cmd.defineCommand("release", { numberOfKeys: 1, lua: RELEASE });
  cmd.defineCommand("publishBy", { numberOfKeys: 0, lua: PUBLISH_BY });
  return cmd;
}

/**
 * Start-up against Redis: a Redis that refuses, closes, or accepts the connection and never
 * answers (ioredis's connectTimeout ends at the TCP connection, not at the answers) fails the
 * start with one clear message, before any listener opens.
 */
export class RedisStart {
  /** The connection's first error says why (WRONGPASS, ECONNREFUSED); connect() only says it closed. */
  #firstError?: Error;
  readonly #noteError = (err: Error) => (this.#firstError ??= err);

  constructor(
    private readonly cmd: Redis,
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {
    cmd.on("error", this.#noteError);
  }

  /** `work`, or a RedisTimeoutError past the command timeout. */
  answer<T>(work: Promise<T>): Promise<T> {
    return withTimeout(work, this.timeoutMs, () => new RedisTimeoutError(this.timeoutMs));
  }

  /** Runs `step`; on failure closes the command connection (and `also`) and throws the start-up error. */
  async step<T>(step: () => Promise<T>, also?: Redis): Promise<T> {
    try {
      return await step();
    } catch (err) {
      also?.disconnect();
      this.cmd.disconnect();
      throw this.#cannotReach(err as Error);
    }
  }

  /** Started: later errors are the cluster's outage path, not start-up's. */
  done(): void {
    this.cmd.off("error", this.#noteError);
  }

  #cannotReach(err: Error): S2sError {
    const first = this.#firstError;
    const reason = first && first.message !== err.message ? `${first.message}; ${err.message}` : err.message;
    return new S2sError(
      ERROR_CODES.CLUSTER_UNAVAILABLE,
      `cluster.redis_url: cannot reach Redis at ${redactedUrl(this.url)} (${reason}); every cluster node needs it to start`,
      undefined,
      { cause: first ?? err },
    );
  }
}

/** Every key matching `pattern`, each SCAN call within `within` (the command deadline). */
export async function scanAll(cmd: Redis, pattern: string, within: <T>(work: Promise<T>) => Promise<T>): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await within(cmd.scan(cursor, "MATCH", pattern, "COUNT", 1000));
    out.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  return out;
}
