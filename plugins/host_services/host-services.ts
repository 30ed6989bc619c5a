import { el, type LocalDelivery, makeIqResult, NS, type Router, type XmlElement } from "../../core/index.js";

/** What a bare local host answers: XEP-0199 ping and XEP-0030 disco#info. */
export class HostServices implements LocalDelivery {
  readonly name = "host_services";
  readonly #hosts: ReadonlySet<string>;

  constructor(hosts: readonly string[], private readonly router: () => Router) {
    this.#hosts = new Set(hosts);
  }

  deliver(stanza: XmlElement): boolean {
    if (stanza.name !== "iq") return false;
    const to = stanza.attr("to")?.toLowerCase();
    if (!to || !this.#hosts.has(to)) return false;
    const type = stanza.attr("type");
    if (type !== "get") return false;
    const payload = stanza.children.find((c): c is XmlElement => typeof c !== "string");
    if (payload?.name === "ping" && payload.ns === NS.PING) {
      // XEP-0199 §4: an empty result is the pong.
      this.router().route(makeIqResult(stanza));
      return true;
    }
    if (payload?.name === "query" && payload.ns === NS.DISCO_INFO && payload.attr("node") === undefined) {
      // XEP-0030 §3.1: identity and the features this host itself answers.
      const query = el("query", {}, NS.DISCO_INFO,
        el("identity", { category: "server", type: "im", name: "xmpp-s2s" }, NS.DISCO_INFO),
        el("feature", { var: NS.DISCO_INFO }, NS.DISCO_INFO),
        el("feature", { var: NS.PING }, NS.DISCO_INFO),
      );
      this.router().route(makeIqResult(stanza, query));
      return true;
    }
    return false;
  }
}
