/** Reading stanzas received by @xmpp/component / @xmpp/client (ltx elements) in tests. */

/** The RFC 6120 §8.3 defined condition of an error stanza, e.g. "remote-server-not-found". */
export function errorCondition(stanza: any): string | undefined {
  const error = stanza.getChild("error");
  return error?.children.find((c: any) => typeof c !== "string" && c.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name !== "text")?.name;
}
