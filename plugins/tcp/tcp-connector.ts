import { connect as netConnect } from "node:net";
import {
  type Connection,
  type Connector,
  type ConnectRequest,
  type ConnectTarget,
  ERROR_CODES,
  type EventBus,
  type Logger,
  S2sError,
  systemClock,
  type Clock,
  type Timer,
} from "../../core/index.js";

/** RFC 8305 §5: the recommended delay before racing the next address family. */
const HAPPY_EYEBALLS_DELAY_MS = 250;

/**
 * TCP connector: targets in resolver order, each attempt bounded by
 * `s2s.outgoing.connection_timeout`; when the next target is of the other IP family it is raced
 * after 250 ms (happy eyeballs, RFC 8305) instead of waiting for the full timeout.
 */
export class TcpConnector implements Connector {
  constructor(
    private readonly connectionTimeoutMs: number,
    private readonly events: EventBus,
    private readonly logger: Logger,
    /** Attempt deadlines and the happy-eyeballs delay run on it (core/clock/clock.ts). */
    private readonly clock: Clock = systemClock,
  ) {}

  async connect(request: ConnectRequest): Promise<Connection> {
    const { targets } = request;
    const reasons: string[] = [];
    let index = 0;
    while (index < targets.length) {
      const first = targets[index]!;
      const second = targets[index + 1];
      const race = second !== undefined && second.family !== undefined && first.family !== undefined && second.family !== first.family;
      const group = race ? [first, second] : [first];
      index += group.length;
      try {
        return await this.#raceGroup(group, request, reasons);
      } catch (err) {
        // Every target of the group failed (their reasons are recorded): try the next group.
        if (!(err instanceof GroupFailed)) throw err;
      }
    }
    throw new S2sError(ERROR_CODES.CONNECT_FAILED, `cannot reach ${request.remoteDomain}: ${reasons.join("; ") || "no targets"}`, "remote-server-not-found");
  }

  /** Start the first target now and the second after the happy-eyeballs delay; first success wins. */
  #raceGroup(group: ConnectTarget[], request: ConnectRequest, reasons: string[]): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let pending = group.length;
      let done = false;
      const attempts: Array<{ abort: () => void }> = [];
      let staggerTimer: Timer | undefined;
      const settleFailure = () => {
        if (--pending === 0 && !done) reject(new GroupFailed());
      };
      const start = (target: ConnectTarget) => {
        const attempt = this.#attempt(target, request);
        attempts.push(attempt);
        attempt.result.then(
          (connection) => {
            if (done) {
              connection.socket.destroy();
              return;
            }
            done = true;
            staggerTimer?.cancel();
            for (const a of attempts) if (a !== attempt) a.abort();
            resolve(connection);
          },
          (err: Error) => {
            // The racer lost to a faster attempt: not a failure of that target.
            if (done || err instanceof Superseded) return settleFailure();
            reasons.push(`${target.host}:${target.port}: ${err.message}`);
            this.events.emit({ type: "connect_failed", local: request.localDomain, remote: request.remoteDomain, target: `${target.host}:${target.port}`, reason: err.message });
            this.logger.info({ what: "connect_failed", local: request.localDomain, remote: request.remoteDomain, target: `${target.host}:${target.port}`, reason: err.message });
            // A failed first attempt starts the racer at once instead of after the delay.
            if (group[1] && attempts.length === 1) {
              staggerTimer?.cancel();
              start(group[1]);
            }
            settleFailure();
          },
        );
      };
      start(group[0]!);
      if (group[1]) {
        staggerTimer = this.clock.timer(HAPPY_EYEBALLS_DELAY_MS, () => {
          if (!done && attempts.length === 1) start(group[1]!);
        });
      }
    });
  }

  /**
   * One attempt: TCP connect and, for a direct-TLS target, the TLS handshake, together bounded by
   * `outgoing.connection_timeout` (a peer that accepts TCP but never answers TLS must not hold the
   * pair forever: the session's negotiation timer only starts once the connector returns).
   * `abort()` settles the attempt at once and frees its socket and timer.
   */
  #attempt(target: ConnectTarget, request: ConnectRequest): { result: Promise<Connection>; abort: () => void } {
    let abort: () => void = () => {};
    const result = new Promise<Connection>((resolve, reject) => {
      let settled = false;
      let phase = "TCP connection";
      let timer: Timer | undefined;
      // Connect to the address the resolver found; getaddrinfo would bypass the resolver's DNS servers (node:net resolves host names with the system resolver).
      const socket = netConnect({ host: target.host, port: target.port, noDelay: true, autoSelectFamily: false });
      const finish = () => {
        settled = true;
        timer?.cancel();
        request.signal?.removeEventListener("abort", onAbort);
        socket.off("error", fail);
      };
      const fail = (err: Error) => {
        if (settled) return;
        finish();
        // Keep a listener: destroy() after an error must not turn a late 'error' into a crash.
        socket.on("error", () => {});
        socket.destroy();
        reject(err);
      };
      const onAbort = () => fail(new Error("aborted"));
      abort = () => fail(new Superseded("superseded by another attempt"));
      socket.once("error", fail);
      if (this.connectionTimeoutMs !== Infinity) {
        timer = this.clock.timer(this.connectionTimeoutMs, () => fail(new Error(`no ${phase} within ${this.connectionTimeoutMs} ms`)));
      }
      if (request.signal?.aborted) return onAbort();
      request.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("connect", () => {
        if (settled) return;
        if (!target.directTls) {
          finish();
          resolve({ socket, target });
          return;
        }
        // XEP-0368: TLS from the first byte; a failed or stalled handshake moves on to the next target.
        phase = "direct TLS handshake";
        request.secure(socket, target).then(
          (tls) => {
            if (settled) {
              tls.socket.destroy();
              return;
            }
            finish();
            // The TLS socket is the one the stream uses; the raw one under it must not crash on a late error.
            socket.on("error", () => {});
            resolve({ socket: tls.socket, target, tls });
          },
          (err: Error) => fail(new Error(`direct TLS failed: ${err.message}`)),
        );
      });
    });
    return { result, abort: () => abort() };
  }
}

/** An attempt abandoned because another one of its group connected first. */
class Superseded extends Error {}

/** Every attempt of a happy-eyeballs group failed; each one's reason is already recorded. */
class GroupFailed extends Error {}
