import { CONNECTOR, definePlugin, EVENTS } from "../../core/index.js";
import { parseTcpOptions, type TcpConnectorOptions } from "./options.js";
import { TcpConnector } from "./tcp-connector.js";

export default definePlugin<TcpConnectorOptions>({
  name: "tcp",
  description: "TCP connector with per-attempt timeout, happy eyeballs, direct TLS, and the outbound session settings",
  provides: [CONNECTOR],
  s2sOptions: ["outgoing.connection_timeout", "max_retry_delay"],
  parseOptions: (raw) => parseTcpOptions(raw),
  register(ctx) {
    const s2s = ctx.config.s2s;
    const settings = { ...ctx.options, maxRetryDelayMs: s2s.maxRetryDelayMs };
    ctx.provide(CONNECTOR, { useFactory: (c) => new TcpConnector(settings, s2s.outgoing.connectionTimeoutMs, c.resolve(EVENTS), ctx.logger) });
  },
});
