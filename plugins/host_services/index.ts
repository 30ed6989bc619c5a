import { definePlugin, LOCAL_DELIVERY, ROUTER } from "../../core/index.js";
import { HostServices } from "./host-services.js";

export default definePlugin({
  name: "host_services",
  description: "XEP-0199 ping and XEP-0030 disco#info at every local host",
  provides: [LOCAL_DELIVERY],
  register(ctx) {
    // The core builds the router before any local delivery (core/server/compose.ts).
    ctx.provide(LOCAL_DELIVERY, {
      useFactory: (c) => {
        const router = c.resolve(ROUTER);
        return new HostServices(ctx.config.general.hosts, () => router);
      },
    });
  },
});
