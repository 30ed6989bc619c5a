/** Public API of xmpp-s2s for embedding and plugin authors. */
import "./cjs/reflect-metadata.js";

export { createServer, type S2sServer, type CreateServerOptions } from "./server/server.js";
export { checkConfigFile } from "./check-config.js";
export { loadConfigFile, parseConfig, configFromObject } from "./config/load.js";
export type * from "./config/types.js";
export { definePlugin, type PluginDeclaration, type PluginContext, type Provider, type OptionsResult } from "./plugins/plugin.js";
export * from "./tokens.js";
export { XmlElement, el, NS, serialize, definedCondition, receivedText, type XmlNode, type ChildrenBuilder } from "./xml/element.js";
export { S2sError, ConfigError, ERROR_CODES, isS2sError, isConfigError } from "./errors.js";
export { EventBus, type S2sEvent, type S2sEventType } from "./events/events.js";
export type { Policy, PolicyRequest, PolicyVerdict } from "./policy/policy.js";
export type { Resolver, ConnectTarget } from "./resolver/resolver.js";
export type { Connector, Connection, ConnectRequest } from "./connector/connector.js";
export { DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_SETTINGS, type SessionSettings } from "./session/session-settings.js";
export type { TlsProvider, SecureChannel, PeerIdentityCheck } from "./tls/tls.js";
export type { Authenticator, OutboundAuthResult } from "./auth/authenticator.js";
export type { LocalDelivery, Service } from "./delivery/local-delivery.js";
export type { Router } from "./router/router.js";
export type { InboundStreamApi, OutboundStreamApi, AuthClaim, InboundAuthOutcome } from "./stream/streams.js";
export { addressOverride } from "./resolver/address-override.js";
export type { DialbackKeys } from "./dialback/dialback.js";
export { SM_NS, type StreamManagementSettings } from "./sm/stream-management.js";
export {
  DEFAULT_MAX_DEPTH,
  type StreamParserFactory,
  type StreamParser,
  type StreamHeader,
  type StreamParserHandlers,
  type StreamParserLimits,
  type ParserErrorCondition,
} from "./stream/parser.js";
export { systemClock, type Clock, type Timer, type TimerOptions } from "./clock/clock.js";
export type { PolicyChain } from "./policy/chain.js";
export type { OutboundSessions } from "./session/outbound-sessions.js";
// Cluster backends (docs/cluster.md): the seam a backend implements and its `[cluster]` options.
export type { Cluster, ClusterSnapshot, DialbackVerdict, DialbackVerifier, DialbackVerifyRequest, EmbedderSubscribers } from "./cluster/cluster.js";
export { redactedUrl, type ClusterConfig } from "./cluster/options.js";
export { createLogger, type Logger } from "./logging/logger.js";

// ---------------------------------------------------------------------------------------------
// For plugin authors (docs/writing-a-plugin.md): what the built-in plugins use, nothing more.

// Addresses: a JID's domain, stanza names, IQ results (normaliseDomain is with the option checks).
export { STANZA_NAMES, domainOf, fromDomainOf, internalized, makeIqResult, toDomainOf } from "./router/stanza.js";
// Option checks: `[plugins.<name>]` parsers and `[s2s]` owners report problems in one format: `path: what (got VALUE, expected SYNTAX)`.
export { didYouMean } from "./config/did-you-mean.js";
export {
  show as formatValue,
  normaliseDomain,
  problem,
  missing,
  field,
  required,
  table,
  child,
  item,
  isTable,
  Verbatim,
  shortPath,
  checkItems,
  arrayOf,
  arrayOfTables,
  subTable,
  reportDuplicates,
  SYNTAX,
  string,
  nonEmptyString,
  boolean,
  oneOf,
  integer,
  positiveInteger,
  nonNegativeInteger,
  port,
  orInfinity,
  secondsToMs,
  ipAddress,
  domain,
  MAX_TIMER_MS,
  type Check,
  type CheckContext,
  type Table,
  type TableShape,
} from "./config/checks.js";
export type { S2sOwner, S2sSection, S2sValues, S2sChecked, ListenerTls } from "./config/s2s-section.js";
// Certificate files as the config layer reads them (PEM, key match, names).
export {
  loadCertificateWithKey,
  loadCaCertificates,
  parseSubjectAltName,
  certificateCovers,
  describeNames,
  type CertificateFile,
} from "./config/certs.js";
// Building blocks of streams other than S2S (XEP-0114 components use them).
export { XmlStream } from "./stream/xml-stream.js";
export { checkStreamHeader } from "./session/header-checks.js";
export { shaperFor } from "./shaper/token-bucket.js";
// Rate-limited logging of repeated events (one line per burst, with a count).
export { BurstLog } from "./limits/burst-log.js";
export { withTimeout } from "./time/with-timeout.js";
