import { domainToASCII } from "node:url";
import { el, NS, type XmlElement } from "../xml/element.js";
import type { StanzaErrorType } from "./router.js";

export const STANZA_NAMES: ReadonlySet<string> = new Set(["message", "presence", "iq"]);

/**
 * A domain from the wire in the form the server compares domains in: lower-case, and IDNA A-labels
 * for non-ASCII names (RFC 7622 §3.2, UTS #46 via url.domainToASCII), the form `general.hosts`,
 * `host_policy` and resolver tables are stored in. Unlike `normaliseDomain` (core/config/checks.ts),
 * which validates, it never fails: a name IDNA refuses stays lower-cased as it was, so a malformed
 * peer name is still compared (and denied or bounced) rather than dropped. Hot path (per stanza).
 */
export function comparableDomain(domain: string): string {
  const lower = domain.toLowerCase();
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(lower) ? lower : domainToASCII(lower) || lower;
}

/** The domain part of a JID (RFC 7622 §3.2), normalised; undefined when the JID is malformed. */
export function domainOf(jid: string | undefined): string | undefined {
  if (!jid) return undefined;
  // Hot path: called several times per stanza (its `from` and `to`, by the stream that read it,
  // the router and the delivery), and a flow of stanzas repeats the same two addresses. The last
  // two answers are checked first: each stanza's addresses are new string objects, so the map
  // would hash them again, where comparing with the previous stanza's costs less.
  if (jid === recentJid) return recentDomain;
  if (jid === olderJid) return olderDomain;
  let domain: string | undefined;
  const cached = DOMAIN_CACHE.get(jid);
  if (cached !== undefined) {
    domain = cached || undefined;
  } else {
    domain = parseDomain(jid);
    if (DOMAIN_CACHE.size >= DOMAIN_CACHE_MAX) DOMAIN_CACHE.clear();
    // The key as a string of its own: the address is a slice of the chunk its stanza was read
    // in, and kept as it is, each cached address would keep its whole chunk (up to 64 KiB) alive.
    DOMAIN_CACHE.set(internalized(jid), domain ?? "");
  }
  olderJid = recentJid;
  olderDomain = recentDomain;
  recentJid = jid;
  recentDomain = domain;
  return domain;
}

/**
 * The last `to` (or `from`) address seen and its domain. A stanza's addresses are read by the
 * stream that received it, the router and the delivery, and a flow repeats the same two: one slot
 * per role means each new stanza costs one comparison per address (its `to` is never compared with
 * the previous `from`). On a match the slot takes the new string object, so the next reader of the
 * same stanza compares by reference (equal objects): attribute values are slices of the read
 * chunk, which V8 compares character by character in a runtime call.
 */
class AddressSlot {
  #jid = "";
  #domain: string | undefined;

  domain(jid: string | undefined): string | undefined {
    if (jid === this.#jid) {
      this.#jid = jid;
      return this.#domain;
    }
    const domain = domainOf(jid);
    if (jid) {
      this.#jid = jid;
      this.#domain = domain;
    }
    return domain;
  }
}

const TO_SLOT = new AddressSlot();
const FROM_SLOT = new AddressSlot();

/** `domainOf(stanza.attr("to"))`, for the per-stanza path (see AddressSlot). */
export function toDomainOf(stanza: XmlElement): string | undefined {
  return TO_SLOT.domain(stanza.attr("to"));
}

/** `domainOf(stanza.attr("from"))`, for the per-stanza path (see AddressSlot). */
export function fromDomainOf(stanza: XmlElement): string | undefined {
  return FROM_SLOT.domain(stanza.attr("from"));
}

let recentJid = "";
let recentDomain: string | undefined;
let olderJid = "";
let olderDomain: string | undefined;

const DOMAIN_CACHE = new Map<string, string>();
/** Bounded: a flood of distinct addresses costs at most this many entries. */
const DOMAIN_CACHE_MAX = 10_000;

function parseDomain(jid: string): string | undefined {
  const slash = jid.indexOf("/");
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  const at = bare.lastIndexOf("@");
  const domain = (at === -1 ? bare : bare.slice(at + 1)).toLowerCase();
  if (!domain || domain.length > 1023 || /[\s@/<>'"&]/.test(domain)) return undefined;
  return internalized(comparableDomain(domain.endsWith(".") ? domain.slice(0, -1) : domain));
}

/**
 * The same characters as V8's one shared (internalized) copy. The domains the router hands out
 * are compared and looked up several times per stanza (local hosts, components, authenticated
 * pairs, the outbound session): two internalized strings compare by reference, and a Map finds
 * one without reading it, where a domain sliced from a received chunk (what `toLowerCase` returns
 * for a name already in lower case) costs a character-by-character comparison in a V8 runtime
 * call each time. Property keys are internalized: that is the only way to ask for it from
 * JavaScript. The copy is flat (a slice's copy no longer holds the chunk it was cut from). Costs
 * one look-up, once per new address (domainOf caches it).
 */
export function internalized(s: string): string {
  for (const key in { [s]: true }) return key;
  return s;
}

/** RFC 6120 §10.4.3: never answer an error with an error; IQ results are not bounced either. */
export function isBounceable(stanza: XmlElement): boolean {
  const type = stanza.attr("type");
  if (type === "error") return false;
  if (stanza.name === "iq" && type === "result") return false;
  return true;
}

/** RFC 6120 §8.3.1: the error reply swaps `to` and `from`, keeps `id` and the payload, adds `<error/>`. */
export function makeErrorReply(stanza: XmlElement, condition: string, type: StanzaErrorType, text?: string, by?: string): XmlElement {
  const reply = stanza.clone();
  reply.attrs.type = "error";
  const from = stanza.attr("from");
  const to = stanza.attr("to");
  delete reply.attrs.from;
  delete reply.attrs.to;
  if (to !== undefined) reply.attrs.from = to;
  if (from !== undefined) reply.attrs.to = from;
  reply.append(
    el("error", { type, by }, stanza.ns, el(condition, {}, NS.STANZA_ERRORS), text !== undefined && el("text", { "xml:lang": "en" }, NS.STANZA_ERRORS, text)),
  );
  return reply;
}

/** An IQ result for `iq` (RFC 6120 §8.2.3), with optional payload. */
export function makeIqResult(iq: XmlElement, payload?: XmlElement): XmlElement {
  return el("iq", { type: "result", id: iq.attr("id"), from: iq.attr("to"), to: iq.attr("from") }, iq.ns, payload);
}
