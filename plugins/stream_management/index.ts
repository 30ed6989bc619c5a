import { definePlugin, STREAM_MANAGEMENT, type StreamManagementSettings } from "../../core/index.js";
import { parseSmOptions } from "./options.js";

/**
 * XEP-0198 stream management on S2S streams, both directions: acks and resumption. The plugin is
 * the switch and the settings; the protocol is the core's (core/session/sm-*.ts), used only with
 * peers that offer (outbound) or enable (inbound) it.
 */
export default definePlugin<StreamManagementSettings>({
  name: "stream_management",
  description: "XEP-0198 acks and resumption on S2S streams (used only with peers that offer or enable it)",
  provides: [STREAM_MANAGEMENT],
  parseOptions: parseSmOptions,
  register(ctx) {
    ctx.provide(STREAM_MANAGEMENT, { useValue: ctx.options });
  },
});
