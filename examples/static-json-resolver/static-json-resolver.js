// @ts-check
/** @import { ConnectTarget, Resolver, S2sConfig } from "xmpp-s2s" */
import { isIP } from "node:net";

/**
 * One place to connect to, as written in the JSON file (`port` absent: `s2s.outgoing.port`).
 * @typedef {{ readonly host: string, readonly port?: number, readonly tls: boolean }} JsonTarget
 */

/**
 * A Resolver that replaces DNS: it is provided in the Resolver slot; nothing wraps the DNS plugin.
 * The core applies `s2s.address` before asking any resolver (MongooseIM semantics); this one
 * answers from the JSON table, targets tried in file order. A domain in neither has no address: `[]` ("no answer" is a value;
 * "could not ask" would be an error), so its stanzas bounce with `remote-server-not-found` at once
 * instead of waiting for a timeout.
 *
 * @implements {Resolver}
 */
export class StaticJsonResolver {
  /** @type {S2sConfig["s2s"]} */ #s2s;
  /** @type {ReadonlyMap<string, readonly JsonTarget[]>} */ #table;

  /**
   * @param {S2sConfig["s2s"]} s2s
   * @param {ReadonlyMap<string, readonly JsonTarget[]>} table keys lower-cased and IDNA-normalised
   */
  constructor(s2s, table) {
    this.#s2s = s2s;
    this.#table = table;
  }

  /**
   * @param {string} domain
   * @returns {Promise<ConnectTarget[]>}
   */
  async resolve(domain) {
    return (this.#table.get(domain) ?? []).map((t) => target(t.host, t.port ?? this.#s2s.outgoing.port, t.tls, domain));
  }
}

/**
 * @param {string} host
 * @param {number} port
 * @param {boolean} directTls XEP-0368: TLS from the first byte
 * @param {string} via
 * @returns {ConnectTarget}
 */
function target(host, port, directTls, via) {
  const family = isIP(host);
  return { host, port, directTls, family: family === 6 ? 6 : family === 4 ? 4 : undefined, via };
}
