/**
 * What every secure context of the plugin shares: the trust store it verifies peers against, the
 * CA names it sends in a CertificateRequest, and the handshake options (no session tickets).
 *
 * The CA list. node:tls puts every certificate given as `ca` both in the context's verification
 * store and in the certificate_authorities list of the CertificateRequest (its addCACert calls
 * SSL_CTX_add_client_CA). With the ~140 system roots that list was ~14 KB on every inbound
 * handshake that asks for a client certificate, and OpenSSL copies it into every connection. RFC
 * 5246 §7.4.4 / RFC 8446 §4.2.4 let a server send none ("any certificate"), and an XMPP server
 * has one certificate to present anyway. So the system roots are never passed as `ca`: a context
 * without `ca` verifies against Node's own root store (the roots of `tls.rootCertificates`) and
 * lists nothing. `s2s.cacertfile` CAs are then added to the native context with the same
 * addCACert Node uses for `ca`: the first one replaces the shared root store by a copy of it, so
 * OpenSSL verifies against roots + cacertfile exactly as with `ca: [...roots, ...cacertfile]`, and
 * only those few CAs are listed. (Node's root store also holds NODE_EXTRA_CA_CERTS when that is
 * set; `ca` used to leave them out.)
 *
 * That native method is node:tls's internal (`SecureContext#context`, and `tls.Server` keeps its
 * context in `_sharedCreds`), present in Node for many majors (checked here on 20.20). If a
 * runtime lacks it, the plugin falls back to the full `ca` list (the old behaviour, verification
 * unchanged) and says so; test/tls/handshake-hygiene.test.ts would then fail on the list's size.
 */
import { constants } from "node:crypto";
import * as tls from "node:tls";

/** RFC 8996 / RFC 7590 §3.1: nothing older than TLS 1.2. */
export const MIN_VERSION = "TLSv1.2";

/**
 * No session tickets, in either role. S2S streams are long-lived and never resume a TLS session,
 * and a ticket record after the handshake breaks at least one deployed peer (jabberd2 2.7 reads 1
 * KiB at a time and takes a partial record for a fatal error). With SSL_OP_NO_TICKET:
 * - TLS 1.2: our server issues no NewSessionTicket, our client does not offer the session_ticket
 *   extension, so a peer's server sends none either (RFC 5077 §3.2);
 * - TLS 1.3 (Node 20, OpenSSL 3.0): the server still sends its 2 NewSessionTicket messages, but
 *   stateful ones (a 32-byte session id: 74-byte records instead of 700-1,200 bytes of encrypted
 *   session). Node exposes no SSL_CTX_set_num_tickets; only a process-wide OpenSSL configuration
 *   (`NumTickets = 0`, plugin README) removes them. Measured by test/tls/session-tickets.test.ts.
 */
export const SECURE_OPTIONS = constants.SSL_OP_NO_TICKET;

interface NativeContext {
  addCACert(pem: string): void;
}

function nativeOf(context: tls.SecureContext | undefined): NativeContext | undefined {
  const native = (context as { context?: Partial<NativeContext> } | undefined)?.context;
  return typeof native?.addCACert === "function" ? (native as NativeContext) : undefined;
}

/** The context a `tls.Server` gives each connection it did not switch with SNI. */
export function serverContext(server: tls.Server): tls.SecureContext | undefined {
  return (server as unknown as { _sharedCreds?: tls.SecureContext })._sharedCreds;
}

let canExtendRootStore: boolean | undefined;
/** Whether this runtime has the internals used above, on both kinds of context. */
function extensible(): boolean {
  canExtendRootStore ??= nativeOf(tls.createSecureContext({})) !== undefined && nativeOf(serverContext(tls.createServer({}))) !== undefined;
  return canExtendRootStore;
}

export class ContextTrust {
  /** `ca` for the context options, when the store is given that way. */
  readonly #ca?: readonly string[];
  /** CAs added to each context after it is built. */
  readonly #added: readonly string[];
  /** True only in the fallback: the CertificateRequest lists every system root. */
  readonly listsSystemRoots: boolean;

  /**
   * @param systemRoots trust Node's root store (default in production; tests can turn it off)
   * @param extraPems the `s2s.cacertfile` certificates, PEM
   */
  constructor(systemRoots: boolean, extraPems: readonly string[]) {
    if (!systemRoots) {
      this.#ca = [...extraPems]; // the store and the list are these CAs alone (`ca: []`: an empty store)
      this.#added = [];
    } else if (extraPems.length === 0 || extensible()) {
      this.#added = [...extraPems];
    } else {
      this.#ca = [...tls.rootCertificates, ...extraPems];
      this.#added = [];
    }
    this.listsSystemRoots = systemRoots && this.#ca !== undefined;
  }

  /** Options shared by every context (server and client): trust, versions, ciphers, no tickets. */
  options(ciphers: string): tls.SecureContextOptions {
    return { ...(this.#ca ? { ca: [...this.#ca] } : {}), ciphers, minVersion: MIN_VERSION, secureOptions: SECURE_OPTIONS };
  }

  /** Completes a context built from `options()`: adds the cacertfile CAs to its store. */
  complete<C extends tls.SecureContext | undefined>(context: C): C {
    if (this.#added.length > 0) {
      const native = nativeOf(context);
      if (!native) throw new Error("node:tls secure context without addCACert"); // ruled out by extensible()
      for (const pem of this.#added) native.addCACert(pem);
    }
    return context;
  }
}
