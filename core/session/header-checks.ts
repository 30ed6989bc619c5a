import { NS } from "../xml/element.js";
import type { StreamHeader } from "../stream/parser.js";

export interface HeaderProblem {
  readonly condition: string;
  readonly text: string;
}

/**
 * RFC 6120 §4.9.3 header error matrix, in the order a receiving server must check it:
 * stream namespace and content namespace (§4.9.3.10 invalid-namespace), version (§4.7.5,
 * §4.9.3.25 unsupported-version), `to` present (§4.9.3.22 improper-addressing) and served
 * here (§4.9.3.6 host-unknown).
 */
export function checkStreamHeader(header: StreamHeader, contentNs: string, isLocal: (domain: string) => boolean, requireVersion = true): HeaderProblem | undefined {
  if (header.name !== "stream" || header.ns !== NS.STREAM) {
    return { condition: "invalid-namespace", text: `expected <stream xmlns='${NS.STREAM}'>` };
  }
  if (header.defaultNs !== contentNs) {
    return { condition: "invalid-namespace", text: `expected content namespace '${contentNs}'` };
  }
  if (requireVersion) {
    const version = header.attrs.version;
    const match = version === undefined ? null : /^(\d+)\.(\d+)$/.exec(version);
    // We speak XMPP 1.0 (stream features); pre-1.0 streams cannot negotiate TLS or advertise dialback.
    if (!match || Number(match[1]) !== 1) {
      return { condition: "unsupported-version", text: `version ${version === undefined ? "missing" : `'${version}'`}; this server supports 1.0` };
    }
  }
  const to = header.attrs.to;
  if (!to) return { condition: "improper-addressing", text: "stream header without 'to'" };
  if (!isLocal(to.toLowerCase())) return { condition: "host-unknown", text: `'${to}' is not served here` };
  return undefined;
}
