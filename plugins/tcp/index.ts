import { CLOCK, CONNECTOR, definePlugin, EVENTS, SESSION_SETTINGS } from "../../core/index.js";
import { parseTcpOptions, type TcpConnectorOptions } from "./options.js";
import { TcpConnector } from "./tcp-connector.js";

export default definePlugin<TcpConnectorOptions>({
  name: "tcp",
  description: "TCP connector with per-attempt timeout, happy eyeballs, direct TLS, and the outbound session settings",
  provides: [CONNECTOR, SESSION_SETTINGS],
  s2sOptions: ["outgoing.connection_timeout", "max_retry_delay"],
  parseOptions: (raw) => parseTcpOptions(raw),
  register(ctx) {
    const s2s = ctx.config.s2s;
    // The core's outbound sessions read these; the connector itself only connects.
    ctx.provide(SESSION_SETTINGS, { useValue: { ...ctx.options, maxRetryDelayMs: s2s.maxRetryDelayMs } });
    ctx.provide(CONNECTOR, { useFactory: (c) => new TcpConnector(s2s.outgoing.connectionTimeoutMs, c.resolve(EVENTS), ctx.logger, c.resolve(CLOCK)) });
  },
});
