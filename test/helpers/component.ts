import { component as xmppComponent } from "@xmpp/component";
import { EventEmitter } from "node:events";
import { DEADLINE_MS } from "./wait.js";

export interface TestComponent {
  readonly domain: string;
  /** Every stanza the component received, in order (ltx elements from @xmpp/component). */
  readonly received: any[];
  readonly events: EventEmitter;
  send(stanza: any): Promise<void>;
  /** Resolves with the first received stanza matching `match`, or rejects after the deadline. */
  next(match: (stanza: any) => boolean, ms?: number): Promise<any>;
  stop(): Promise<void>;
}

/** A standard XEP-0114 component (`@xmpp/component`) connected to a node's [[listen.service]]. */
export async function connectComponent(ip: string, port: number, domain: string, password: string): Promise<TestComponent> {
  const xmpp = xmppComponent({ service: `xmpp://${ip}:${port}`, domain, password });
  xmpp.reconnect?.stop?.();
  const received: any[] = [];
  const events = new EventEmitter();
  xmpp.on("error", () => {});
  xmpp.on("stanza", (stanza: any) => {
    received.push(stanza);
    events.emit("stanza", stanza);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([xmpp.start(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("component did not connect")), DEADLINE_MS)))]);
  } finally {
    clearTimeout(timer);
  }
  return {
    domain,
    received,
    events,
    send: (stanza) => xmpp.send(stanza),
    next(match, ms = DEADLINE_MS) {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const onStanza = (stanza: any) => {
          if (!match(stanza)) return;
          clearTimeout(timer);
          events.off("stanza", onStanza);
          resolve(stanza);
        };
        const timer = setTimeout(() => {
          events.off("stanza", onStanza);
          reject(new Error(`component ${domain}: no matching stanza within ${ms} ms (got ${received.length}: ${received.slice(-3).map(String).join(" ")})`));
        }, ms);
        events.on("stanza", onStanza);
      });
    },
    async stop() {
      await xmpp.stop().catch(() => {});
    },
  };
}
