// Placeholder until the node:tls provider lands: TLS off only.
import { TLS_PROVIDER, type TlsProvider } from "../../core/tls/tls.js";
import { definePlugin } from "../../core/plugins/plugin.js";

export default definePlugin({
  name: "node_tls",
  description: "STARTTLS and direct TLS with node:tls",
  provides: [TLS_PROVIDER],
  register(ctx) {
    const provider: TlsProvider = {
      mode: ctx.config.s2s.useStarttls,
      offersStartTls: () => false,
      acceptInbound: () => Promise.reject(new Error("TLS not implemented")),
      connectOutbound: () => Promise.reject(new Error("TLS not implemented")),
      checkPeer: () => ({ trusted: false, reason: "TLS not implemented" }),
      hasCertificateFor: () => false,
    };
    ctx.provide(TLS_PROVIDER, { useValue: provider });
  },
});
