import { inject, injectable } from "../cjs/tsyringe.js";
import type { Cluster } from "../cluster/cluster.js";
import type { S2sConfig } from "../config/types.js";
import type { LocalDelivery } from "../delivery/local-delivery.js";
import { EVENTS, type EventBus } from "../events/events.js";
import { LOGGER, type Logger } from "../logging/logger.js";
import type { OutboundSessions } from "../session/outbound-sessions.js";
import { CONFIG } from "../tokens.js";
import type { XmlElement } from "../xml/element.js";
import type { Router, StanzaErrorType } from "./router.js";
import { domainOf, fromDomainOf, internalized, isBounceable, makeErrorReply, STANZA_NAMES, toDomainOf } from "./stanza.js";

/**
 * Local vs remote routing (README, docs/architecture.md): a `to` domain in `general.hosts` or served by a local
 * delivery (components) stays here; anything else goes to the outbound session of
 * (sender's domain, recipient's domain). Every undeliverable stanza is bounced, never dropped.
 */
/**
 * What the router sends to and delivers through. They need the router themselves (echo answers
 * through it, outbound sessions bounce through it), so they cannot be constructor parameters: the
 * composition (core/server/compose.ts) builds the router first and wires these in once they exist.
 */
export interface RouterWiring {
  /** The `[plugins] local_delivery` chain, in order (a cluster backend last). */
  readonly deliveries: readonly LocalDelivery[];
  readonly outbound: OutboundSessions;
  /** Cluster mode (docs/cluster.md): outbound pairs go through the pair's owner node. */
  readonly cluster?: Cluster;
  /** Embedding API tap (`stanzas$`): takes what no delivery plugin took, when someone listens. */
  readonly unserved?: (stanza: XmlElement) => boolean;
}

@injectable()
export class CoreRouter implements Router {
  readonly #hosts: ReadonlySet<string>;
  #wiring?: RouterWiring;

  constructor(
    @inject(CONFIG) config: S2sConfig,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(EVENTS) private readonly events: EventBus,
  ) {
    this.#hosts = new Set(config.general.hosts.map(internalized));
  }

  /** Second phase of the composition (see RouterWiring); called again when a cluster joins. */
  wire(wiring: RouterWiring): void {
    this.#wiring = wiring;
  }

  get #wired(): RouterWiring {
    if (!this.#wiring) throw new Error("router used before the server's composition wired it (core/server/compose.ts)");
    return this.#wiring;
  }

  /** Out over S2S: through the cluster (the pair's owner node) when there is one. */
  #sendOutbound(local: string, remote: string, stanza: XmlElement): Promise<void> | undefined {
    const { cluster, outbound } = this.#wired;
    return cluster ? cluster.sendOutbound(local, remote, stanza) : outbound.send(local, remote, stanza);
  }

  isLocalDomain(domain: string): boolean {
    if (this.#hosts.has(domain)) return true;
    for (const d of this.#wired.deliveries) if (d.servesDomain?.(domain)) return true;
    return false;
  }

  route(stanza: XmlElement): Promise<void> | undefined {
    if (!STANZA_NAMES.has(stanza.name)) {
      this.logger.warn({ what: "route_rejected", name: stanza.name }, "not a stanza");
      return undefined;
    }
    const toDomain = toDomainOf(stanza);
    const fromDomain = fromDomainOf(stanza);
    if (!fromDomain || !this.isLocalDomain(fromDomain)) {
      // Only local senders route through here; S2S input comes in via deliverLocal after checks.
      this.logger.warn({ what: "route_rejected", from: stanza.attr("from"), reason: "sender domain is not local" });
      return undefined;
    }
    if (!toDomain) {
      this.bounce(stanza, "jid-malformed", "modify", "missing or malformed 'to' address");
      return undefined;
    }
    if (this.isLocalDomain(toDomain)) return this.deliverLocal(stanza); // its flow control too (a cluster forward)
    return this.#sendOutbound(fromDomain, toDomain, stanza);
  }

  deliverLocal(stanza: XmlElement): Promise<void> | undefined {
    const { deliveries, unserved } = this.#wired;
    for (const delivery of deliveries) {
      try {
        if (delivery.deliver(stanza)) return delivery.backpressure?.();
      } catch (err) {
        this.logger.error({ what: "delivery_failed", delivery: delivery.name, err }, "local delivery threw");
        this.bounce(stanza, "internal-server-error", "wait");
        return undefined;
      }
    }
    if (unserved?.(stanza)) return undefined;
    // RFC 6120 §8.3.3.19 / §10.5: nobody serves this address.
    this.bounce(stanza, "service-unavailable", "cancel");
    return undefined;
  }

  congestion(stanza: XmlElement): Promise<void> | undefined {
    for (const delivery of this.#wired.deliveries) {
      const congested = delivery.congestion?.(stanza);
      if (congested) return congested;
    }
    return undefined;
  }

  bounce(stanza: XmlElement, condition: string, type: StanzaErrorType, text?: string): void {
    if (!isBounceable(stanza)) {
      this.logger.debug({ what: "bounce_suppressed", name: stanza.name, condition, to: stanza.attr("to") }, "errors and IQ results are not bounced");
      return;
    }
    const from = stanza.attr("from") ?? "";
    const to = stanza.attr("to") ?? "";
    const id = stanza.attr("id");
    this.events.emit({ type: "stanza_bounced", from, to, condition, name: stanza.name, id });
    this.logger.info({ what: "stanza_bounced", from, to, condition, name: stanza.name, id });
    const reply = makeErrorReply(stanza, condition, type, text);
    const senderDomain = domainOf(from);
    if (!senderDomain) return;
    // The sender is local (its stanza was routed here); deliver the error straight back.
    if (this.isLocalDomain(senderDomain)) this.deliverLocal(reply);
    else {
      const ourDomain = domainOf(to);
      if (ourDomain && this.isLocalDomain(ourDomain)) void this.#sendOutbound(ourDomain, senderDomain, reply);
    }
  }
}
