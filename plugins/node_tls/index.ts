import { AUTHENTICATOR, CLOCK, definePlugin, OUTBOUND_SESSIONS, TLS_PROVIDER } from "../../core/index.js";
import { NodeTlsProvider, settingsFromConfig } from "./node-tls-provider.js";

/**
 * STARTTLS and direct TLS on node:tls (RFC 6120 §5, XEP-0368): certificates per local domain with
 * SNI, trust in system roots plus `s2s.cacertfile`, peer identity by RFC 6125 (DNS-ID, SRV-ID,
 * XmppAddr). All settings come from `[s2s]`; the plugin has no options of its own.
 */
export default definePlugin({
  name: "node_tls",
  description: "STARTTLS and direct TLS with node:tls: SNI certificates per domain, RFC 6125 peer verification",
  provides: [TLS_PROVIDER],
  // Only to ask whether one of them uses client certificates; none enabled is a valid answer.
  requires: [AUTHENTICATOR],
  s2sOptions: ["use_starttls", "certfile", "domain_certfile", "cacertfile", "ciphers"],
  register(ctx) {
    // The files were checked by the config layer; reading them again here cannot fail unless they
    // changed in between, in which case the ConfigError names the key.
    // Ask inbound peers for a certificate only if an enabled authenticator uses it (SASL EXTERNAL):
    // decided when the first TLS server is built, after every plugin has registered.
    const clientCertificates = () => {
      // Authenticators exist only in a server's full composition (dialback's needs the outbound
      // sessions). In a plugins-only copy (reload's scratch container, check-config) ask: the safe default.
      if (!ctx.container.isRegistered(OUTBOUND_SESSIONS, true)) return true;
      const authenticators = ctx.container.isRegistered(AUTHENTICATOR, true) ? ctx.container.resolveAll(AUTHENTICATOR) : [];
      return authenticators.some((a) => a.usesPeerCertificate === true);
    };
    ctx.provide(TLS_PROVIDER, { useValue: new NodeTlsProvider({ ...settingsFromConfig(ctx.config), clientCertificates, clock: ctx.container.resolve(CLOCK) }, ctx.logger) });
  },
});
