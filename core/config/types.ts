import type { ClusterConfig } from "../cluster/options.js";
/**
 * The validated, frozen configuration. Field names follow the TOML keys of MongooseIM's
 * `[general]`, `[[listen.s2s]]`, `[[listen.service]]` and `[s2s]` sections (converted to
 * camelCase only where TOML uses dotted sub-tables), plus our `s2s.cacertfile` and `[plugins]`.
 * Units are normalised here: every duration is in milliseconds, whatever the TOML unit.
 */
import type { AdminConfig } from "../admin/config.js";
import type { HttpListenerConfig } from "../http/config.js";
import type { InstrumentationConfig } from "../metrics/config.js";

export type StartTlsMode = "false" | "optional" | "required" | "required_trusted";
export type PolicyVerdict = "allow" | "deny";

export interface S2sListenerConfig {
  readonly port: number;
  /** Default "0.0.0.0". */
  readonly ipAddress: string;
  /** Bytes per top-level element; `Infinity` for "infinity". Default DEFAULT_MAX_STANZA_SIZE. */
  readonly maxStanzaSize: number;
  /** XEP-0368 direct TLS listener (`tls.mode = "tls"`, as MongooseIM 6.4). Default false. */
  readonly directTls: boolean;
  /** Ours: milliseconds an inbound stream may take to become usable (TOML `negotiation_timeout`, seconds). Default 30000. */
  readonly negotiationTimeoutMs: number;
  /** Ours: milliseconds without traffic before an established inbound stream is closed (TOML `idle_timeout`, seconds); Infinity for "infinity". Default 600000. */
  readonly idleTimeoutMs: number;
  /** MongooseIM 6.4 `max_connections`: inbound connections open at once on this listener (hard cap here). Default 10000. */
  readonly maxConnections: number;
  /** Ours: inbound connections open at once from one IP address on this listener. Default 100. */
  readonly maxConnectionsPerIp: number;
  /** `shaper`: the `[shaper.<name>]` limiting bytes read per connection; undefined for "none" (default). */
  readonly shaper?: ShaperSpec;
}

/** A `[shaper.<name>]` traffic shaper: bytes per second read from each connection that uses it. */
export interface ShaperSpec {
  readonly name: string;
  readonly maxRate: number;
}

export interface ServiceListenerConfig {
  readonly port: number;
  readonly ipAddress: string;
  readonly password: string;
  readonly maxStanzaSize: number;
  /** Ours: milliseconds until the component has completed the handshake (TOML `negotiation_timeout`, seconds). Default 30000. */
  readonly negotiationTimeoutMs: number;
  /** Ours: milliseconds without traffic before the component stream is closed (TOML `idle_timeout`, seconds); Infinity for "infinity". Default 600000. */
  readonly idleTimeoutMs: number;
  /** MongooseIM `conflict_behaviour`: a second component for a domain already served is refused ("disconnect", default) or replaces the first ("kick_old"). */
  readonly conflictBehaviour: "disconnect" | "kick_old";
  /**
   * MongooseIM `check_from`: stanzas from the component must carry a `from` in its domain. Default
   * true. (Earlier note here: "false" would let a component claim any domain; the router decides
   * whether to honour it, the config layer only validates the boolean.)
   */
  readonly checkFrom: boolean;
  /** `shaper_rule` (or `shaper`): the `[shaper.<name>]` for each component connection; undefined for "none". */
  readonly shaper?: ShaperSpec;
}

export interface HostPolicyEntry { readonly host: string; readonly policy: PolicyVerdict }
export interface DomainCertfileEntry {
  readonly domain: string;
  readonly certfile: string;
  /** Ours: absolute path of the private key when it is not in `certfile`. */
  readonly keyfile?: string;
}
export interface AddressEntry {
  readonly host: string;
  readonly ipAddress: string;
  /** Absent means `s2s.outgoing.port`. */
  readonly port?: number;
  /** XEP-0368 direct TLS to this address (MongooseIM 6.4 `tls = true`). */
  readonly tls: boolean;
}

export interface S2sSectionConfig {
  readonly defaultPolicy: PolicyVerdict;
  readonly hostPolicy: readonly HostPolicyEntry[];
  readonly useStarttls: StartTlsMode;
  /** Absolute path, or undefined. */
  readonly certfile?: string;
  /** Absolute path of certfile's private key when it is a separate file (Let's Encrypt's privkey.pem; MongooseIM 6.4+ `tls.keyfile`). */
  readonly keyfile?: string;
  readonly domainCertfile: readonly DomainCertfileEntry[];
  /** Ours: extra trusted CAs (absolute path), added to the system roots. */
  readonly cacertfile?: string;
  /** The dialback secret that signs (the first of `sharedSecrets`). Undefined: a random secret per process is generated (with a warning). */
  readonly shared?: string;
  /** Every secret that verifies, the signing one first (`shared` given as a list, for rotation). Set whenever `shared` is. */
  readonly sharedSecrets?: readonly string[];
  readonly address: readonly AddressEntry[];
  readonly ciphers: string;
  /** Milliseconds (TOML: seconds). */
  readonly maxRetryDelayMs: number;
  readonly outgoing: {
    readonly port: number;
    readonly ipVersions: readonly (4 | 6)[];
    /** Milliseconds (TOML: milliseconds, as MongooseIM reads it, whatever its docs say); Infinity for "infinity". */
    readonly connectionTimeoutMs: number;
    /** Bytes per top-level element received on an outbound stream (MongooseIM 6.4+ `outgoing.max_stanza_size`); Infinity for "infinity". Default DEFAULT_MAX_STANZA_SIZE. */
    readonly maxStanzaSize: number;
  };
  readonly dns: {
    /** Milliseconds (TOML: seconds). */
    readonly timeoutMs: number;
    /** Total attempts. */
    readonly retries: number;
  };
}

/** `[plugins]` as written: validated for shape by the config layer, for meaning by the plugin loader. */
export type PluginsSectionConfig = Readonly<Record<string, unknown>>;

export interface S2sConfig {
  /** Absolute path of the config file, or undefined for a config built in code. */
  readonly file?: string;
  /** Folder that relative paths (certificates, plugin modules) resolve against. */
  readonly baseDir: string;
  readonly general: { readonly hosts: readonly string[] };
  readonly listen: {
    readonly s2s: readonly S2sListenerConfig[];
    readonly service: readonly ServiceListenerConfig[];
    /** `[[listen.http]]` (metrics), see core/http/config.ts. */
    readonly http: readonly HttpListenerConfig[];
  };
  readonly s2s: S2sSectionConfig;
  readonly plugins: PluginsSectionConfig;
  /** `[instrumentation]`, see core/metrics/config.ts. */
  readonly instrumentation: InstrumentationConfig;
  /** `[admin]`, see core/admin/config.ts; undefined: no admin endpoint (the default). */
  readonly admin?: AdminConfig;
  /** `[cluster]` (docs/cluster.md): absent on a single node. */
  readonly cluster?: ClusterConfig;
}

/** RFC 6120 §13.12 asks servers to accept stanzas of at least 10,000 bytes; 64 KiB leaves room for
 * real-world vCards and PubSub payloads while bounding memory per stream. */
export const DEFAULT_MAX_STANZA_SIZE = 65536;
