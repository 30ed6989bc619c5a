/** Public API of xmpp-s2s for embedding and plugin authors. */
import "reflect-metadata";

export { createServer, type S2sServer, type CreateServerOptions } from "./server/server.js";
export { checkConfigFile } from "./check-config.js";
export { loadConfigFile, parseConfig, configFromObject } from "./config/load.js";
export type * from "./config/types.js";
export { definePlugin, type PluginDeclaration, type PluginContext, type Provider, type OptionsResult } from "./plugins/plugin.js";
export * from "./tokens.js";
export { XmlElement, el, NS, serialize } from "./xml/element.js";
export { S2sError, ConfigError, ERROR_CODES, isS2sError, isConfigError } from "./errors.js";
export type { S2sEvent, S2sEventType } from "./events/events.js";
export type { Policy, PolicyRequest, PolicyVerdict } from "./policy/policy.js";
export type { Resolver, ConnectTarget } from "./resolver/resolver.js";
export type { Connector, Connection, ConnectRequest } from "./connector/connector.js";
export type { SessionSettings } from "./session/session-settings.js";
export type { TlsProvider, SecureChannel } from "./tls/tls.js";
export type { Authenticator, OutboundAuthResult } from "./auth/authenticator.js";
export type { LocalDelivery, Service } from "./delivery/local-delivery.js";
export type { Router } from "./router/router.js";
export type { InboundStreamApi, OutboundStreamApi, AuthClaim, InboundAuthOutcome } from "./stream/streams.js";
export { addressOverride } from "./resolver/address-override.js";
export type { DialbackKeys } from "./dialback/dialback.js";
export type { StreamParserFactory, StreamParser, StreamHeader } from "./stream/parser.js";
export type { Clock } from "./clock/clock.js";
export type { EventBus } from "./events/events.js";
export type { PolicyChain } from "./policy/chain.js";
export type { OutboundSessions } from "./session/outbound-sessions.js";
export type { Logger } from "./logging/logger.js";
