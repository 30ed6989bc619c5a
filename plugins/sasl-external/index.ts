// Placeholder until SASL EXTERNAL lands: never offered, never used.
import { AUTHENTICATOR } from "../../core/auth/authenticator.js";
import { definePlugin } from "../../core/plugins/plugin.js";

export default definePlugin({
  name: "sasl_external",
  description: "XEP-0178 SASL EXTERNAL with certificates",
  provides: [AUTHENTICATOR],
  register(ctx) {
    ctx.provide(AUTHENTICATOR, {
      useValue: {
        name: "sasl_external",
        inboundFeatures: () => [],
        handleInbound: () => false,
        authenticateOutbound: async () => ({ outcome: "unavailable", reason: "not implemented" }),
      },
    });
  },
});
