import { AUTHENTICATOR, definePlugin, TLS_PROVIDER } from "../../core/index.js";
import { SaslExternalAuthenticator } from "./sasl-external.js";

/**
 * SASL EXTERNAL with certificates (XEP-0178): the peer's TLS certificate authenticates its domain.
 * Needs the TLS slot for certificate checks; no options of its own (certificates and trust come
 * from `[s2s]`, through the TLS provider).
 */
export default definePlugin({
  name: "sasl_external",
  description: "XEP-0178 SASL EXTERNAL: authenticate a domain with its TLS certificate, never over plaintext, always through policy",
  provides: [AUTHENTICATOR],
  requires: [TLS_PROVIDER],
  register(ctx) {
    ctx.provide(AUTHENTICATOR, {
      useValue: new SaslExternalAuthenticator({
        // Resolved at first use, not here: the TLS provider may register after this plugin.
        tls: () => ctx.container.resolve(TLS_PROVIDER),
        logger: ctx.logger,
      }),
    });
  },
});
