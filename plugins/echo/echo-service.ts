import { el, type LocalDelivery, type Router, type XmlElement } from "../../core/index.js";

/**
 * `echo@<each local host>` (README, plugins/echo/README.md): a message with a body goes back to its sender with the
 * same body and type. Other stanzas to echo@ get the router's usual error.
 */
export class EchoService implements LocalDelivery {
  readonly name = "echo";
  readonly #addresses: ReadonlySet<string>;

  constructor(hosts: readonly string[], private readonly router: () => Router) {
    this.#addresses = new Set(hosts.map((h) => `echo@${h}`));
  }

  deliver(stanza: XmlElement): boolean {
    if (stanza.name !== "message") return false;
    const to = stanza.attr("to");
    if (!to) return false;
    const slash = to.indexOf("/");
    const bare = (slash === -1 ? to : to.slice(0, slash)).toLowerCase();
    if (!this.#addresses.has(bare)) return false;
    const body = stanza.getChild("body");
    const from = stanza.attr("from");
    // Errors are never answered (RFC 6120 §10.4.3); a message without a body has nothing to echo.
    if (!body || !from || stanza.attr("type") === "error") return true;
    const reply = el("message", { from: bare, to: from, type: stanza.attr("type"), id: stanza.attr("id") }, stanza.ns, el("body", {}, stanza.ns, body.text()));
    const congested = this.router().route(reply);
    if (congested && congested !== this.#congested) {
      this.#congested = congested;
      void congested.finally(() => {
        if (this.#congested === congested) this.#congested = undefined;
      });
    }
    return true;
  }

  /** The answers' way out is congested: whoever feeds us should pause (LocalDelivery.backpressure). */
  backpressure(): Promise<void> | undefined {
    return this.#congested;
  }

  #congested?: Promise<void>;
}
