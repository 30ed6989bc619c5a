import { definePlugin, LOCAL_DELIVERY, ROUTER } from "../../core/index.js";
import { lazy } from "../../core/late.js";
import { HostServices } from "./host-services.js";

export default definePlugin({
  name: "host_services",
  description: "XEP-0199 ping and XEP-0030 disco#info at every local host",
  provides: [LOCAL_DELIVERY],
  register(ctx) {
    ctx.provide(LOCAL_DELIVERY, { useFactory: (c) => new HostServices(ctx.config.general.hosts, lazy(() => c.resolve(ROUTER))) });
  },
});
