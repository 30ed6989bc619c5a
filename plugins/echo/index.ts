import { definePlugin, LOCAL_DELIVERY, ROUTER } from "../../core/index.js";
import { EchoService } from "./echo-service.js";

export default definePlugin({
  name: "echo",
  description: "echo@<host>: sends message bodies back to their sender",
  provides: [LOCAL_DELIVERY],
  register(ctx) {
    // The core builds the router before any local delivery (core/server/compose.ts).
    ctx.provide(LOCAL_DELIVERY, {
      useFactory: (c) => {
        const router = c.resolve(ROUTER);
        return new EchoService(ctx.config.general.hosts, () => router);
      },
    });
  },
});
