import { connect as netConnect, type Socket } from "node:net";
import type { Connection, ConnectRequest, Connector, SessionSettings } from "../../core/connector/connector.js";
import { ERROR_CODES, S2sError } from "../../core/errors.js";
import type { EventBus } from "../../core/events/events.js";
import type { Logger } from "../../core/logging/logger.js";
import type { ConnectTarget } from "../../core/resolver/resolver.js";

/** RFC 8305 §5: the recommended delay before racing the next address family. */
const HAPPY_EYEBALLS_DELAY_MS = 250;

/**
 * TCP connector: targets in resolver order, each attempt bounded by
 * `s2s.outgoing.connection_timeout`; when the next target is of the other IP family it is raced
 * after 250 ms (happy eyeballs, RFC 8305) instead of waiting for the full timeout.
 */
export class TcpConnector implements Connector {
  constructor(
    readonly sessionSettings: SessionSettings,
    private readonly connectionTimeoutMs: number,
    private readonly events: EventBus,
    private readonly logger: Logger,
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
      } catch {
        // every target of the group failed; reasons were recorded
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
      let staggerTimer: NodeJS.Timeout | undefined;
      const settleFailure = () => {
        if (--pending === 0 && !done) reject(new Error("all failed"));
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
            clearTimeout(staggerTimer);
            for (const a of attempts) if (a !== attempt) a.abort();
            resolve(connection);
          },
          (err: Error) => {
            reasons.push(`${target.host}:${target.port}: ${err.message}`);
            this.events.emit({ type: "connect_failed", local: request.localDomain, remote: request.remoteDomain, target: `${target.host}:${target.port}`, reason: err.message });
            this.logger.info({ what: "connect_failed", local: request.localDomain, remote: request.remoteDomain, target: `${target.host}:${target.port}`, reason: err.message });
            // A failed first attempt starts the racer at once instead of after the delay.
            if (group[1] && attempts.length === 1) {
              clearTimeout(staggerTimer);
              start(group[1]);
            }
            settleFailure();
          },
        );
      };
      start(group[0]!);
      if (group[1]) {
        staggerTimer = setTimeout(() => {
          if (!done && attempts.length === 1) start(group[1]!);
        }, HAPPY_EYEBALLS_DELAY_MS);
      }
    });
  }

  #attempt(target: ConnectTarget, request: ConnectRequest): { result: Promise<Connection>; abort: () => void } {
    let socket: Socket | undefined;
    let timer: NodeJS.Timeout | undefined;
    const result = new Promise<Connection>((resolve, reject) => {
      // Connect to the address the resolver found; getaddrinfo would bypass the resolver's DNS servers (stack-notes).
      socket = netConnect({ host: target.host, port: target.port, noDelay: true, autoSelectFamily: false });
      const s = socket;
      const fail = (err: Error) => {
        clearTimeout(timer);
        s.destroy();
        reject(err);
      };
      s.once("error", fail);
      if (this.connectionTimeoutMs !== Infinity) {
        timer = setTimeout(() => fail(new Error(`no TCP connection within ${this.connectionTimeoutMs} ms`)), this.connectionTimeoutMs);
      }
      request.signal?.addEventListener("abort", () => fail(new Error("aborted")), { once: true });
      s.once("connect", () => {
        clearTimeout(timer);
        s.off("error", fail);
        if (!target.directTls) {
          resolve({ socket: s, target });
          return;
        }
        // XEP-0368: TLS from the first byte; a failed handshake moves on to the next target.
        s.once("error", () => {});
        request.secure(s, target).then(
          (tls) => resolve({ socket: tls.socket, target, tls }),
          (err: Error) => {
            s.destroy();
            reject(new Error(`direct TLS failed: ${err.message}`));
          },
        );
      });
    });
    return { result, abort: () => socket?.destroy() };
  }
}
