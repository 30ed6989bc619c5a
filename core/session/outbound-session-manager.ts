import { inject, injectable } from "tsyringe";
import type { OutboundSessions } from "./outbound-sessions.js";
import type { OutboundStreamApi } from "../stream/streams.js";
import type { XmlElement } from "../xml/element.js";
import { StreamDeps } from "./deps.js";
import { OutboundSession } from "./outbound-session.js";
import { RetryScheduler } from "./retry-scheduler.js";

/** Owns every outbound (local, remote) session of one server instance. */
@injectable()
export class OutboundSessionManager implements OutboundSessions {
  readonly #sessions = new Map<string, OutboundSession>();
  readonly #retry: RetryScheduler;
  #stopped = false;

  constructor(@inject(StreamDeps) private readonly deps: StreamDeps) {
    this.#retry = new RetryScheduler(deps, (session) => this.#retryNow(session));
  }

  send(localDomain: string, remoteDomain: string, stanza: XmlElement): Promise<void> | undefined {
    if (this.#stopped) {
      this.deps.router.bounce(stanza, "remote-server-not-found", "cancel", "server is shutting down");
      return undefined;
    }
    const session = this.#session(localDomain, remoteDomain);
    const backpressure = session.send(stanza);
    if (session.state === "idle" && !this.#retry.isWaiting(session)) void session.connect();
    else if (this.#retry.isWaiting(session)) this.#retry.hold(session);
    return backpressure;
  }

  async openStream(localDomain: string, remoteDomain: string): Promise<OutboundStreamApi> {
    return this.#session(localDomain, remoteDomain).openStream();
  }

  inboundAuthenticated(localDomain: string, remoteDomain: string): void {
    // The remote just reached us, so it is up: every pair waiting to retry it (ours and our
    // components') stops waiting and delivers now (nobody else does: peers.md).
    for (const session of this.#sessions.values()) if (session.remoteDomain === remoteDomain) this.#retry.cancelWait(session);
    void localDomain;
  }

  async closeWhere(predicate: (local: string, remote: string) => Promise<boolean> | boolean, condition: string): Promise<void> {
    for (const session of [...this.#sessions.values()]) {
      if (await predicate(session.localDomain, session.remoteDomain)) {
        this.#retry.forget(session);
        session.close(condition, "no longer allowed by policy");
        this.#sessions.delete(session.key);
        this.#last = undefined;
      }
    }
  }

  async stop(condition: string): Promise<void> {
    this.#stopped = true;
    this.#retry.stop();
    for (const session of this.#sessions.values()) session.close(condition, "server is shutting down");
    this.#sessions.clear();
    this.#last = undefined;
  }

  /** The last session looked up: bulk traffic goes to one pair, so skip building its key per stanza. */
  #last?: OutboundSession;

  #session(localDomain: string, remoteDomain: string): OutboundSession {
    const last = this.#last;
    if (last && last.localDomain === localDomain && last.remoteDomain === remoteDomain) return last;
    const key = `${localDomain} ${remoteDomain}`;
    let session = this.#sessions.get(key);
    if (!session) {
      session = new OutboundSession(localDomain, remoteDomain, this.deps, {
        onAttemptFailed: (s, err) => this.#retry.failed(s, err),
        onEstablished: (s) => this.#retry.succeeded(s),
        onIdle: (s) => {
          if (this.#stopped) return;
          if (s.queued > 0) {
            void s.connect();
            return;
          }
          // A pair whose stream closed after working has nothing to remember (no backoff): drop
          // it, so sessions do not pile up for every domain we ever talked to.
          this.#forget(s);
        },
      });
      this.#sessions.set(key, session);
    }
    this.#last = session;
    return session;
  }

  #forget(session: OutboundSession): void {
    if (this.#sessions.get(session.key) !== session) return;
    this.#retry.forget(session);
    this.#sessions.delete(session.key);
    if (this.#last === session) this.#last = undefined;
  }

  #retryNow(session: OutboundSession): void {
    if (this.#stopped) return;
    if (session.queued > 0) void session.connect();
  }
}
