import { definePlugin, LOCAL_DELIVERY, ROUTER } from "../../core/index.js";
import { lazy } from "../../core/late.js";
import { EchoService } from "./echo-service.js";

export default definePlugin({
  name: "echo",
  description: "echo@<host>: sends message bodies back to their sender",
  provides: [LOCAL_DELIVERY],
  register(ctx) {
    ctx.provide(LOCAL_DELIVERY, { useFactory: (c) => new EchoService(ctx.config.general.hosts, lazy(() => c.resolve(ROUTER))) });
  },
});
