import { CLOCK, definePlugin, EVENTS, LOCAL_DELIVERY, ROUTER, SERVICE, STREAM_PARSER_FACTORY } from "../../core/index.js";
import { ComponentsService } from "./components-service.js";

export default definePlugin({
  name: "components",
  description: "XEP-0114 external components on every [[listen.service]]",
  provides: [LOCAL_DELIVERY, SERVICE],
  requires: [STREAM_PARSER_FACTORY],
  register(ctx) {
    let service: ComponentsService | undefined;
    const make = (c: import("tsyringe").DependencyContainer) => {
      // The core builds the router before any local delivery (core/server/compose.ts).
      const router = c.resolve(ROUTER);
      return (service ??= new ComponentsService(ctx.config, c.resolve(STREAM_PARSER_FACTORY), () => router, ctx.logger, c.resolve(EVENTS), c.resolve(CLOCK)));
    };
    ctx.provide(LOCAL_DELIVERY, { useFactory: make });
    ctx.provide(SERVICE, { useFactory: make });
  },
});

