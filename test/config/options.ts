/** Every configuration option, by its documented dotted name: the checklist the config tests and docs are held to. */
export const S2S_LISTENER_KEYS = [
  "port", "ip_address", "max_stanza_size", "tls.mode", "negotiation_timeout", "idle_timeout",
  "max_connections", "max_connections_per_ip", "shaper", "num_acceptors", "backlog", "proto", "ip_version", "hibernate_after",
] as const;

export const SERVICE_LISTENER_KEYS = [
  "port", "ip_address", "password", "max_stanza_size", "negotiation_timeout", "idle_timeout", "conflict_behaviour", "check_from",
  "shaper_rule", "shaper", "num_acceptors", "backlog", "proto", "hibernate_after", "ip_version",
] as const;

/** The seed's [s2s] options, in its order, then ours. */
export const S2S_KEYS = [
  "default_policy", "host_policy", "use_starttls", "certfile", "domain_certfile", "shared", "address", "ciphers",
  "max_retry_delay", "outgoing.port", "outgoing.ip_versions", "outgoing.connection_timeout", "dns.timeout", "dns.retries",
  "cacertfile",
] as const;

export const ALL_OPTIONS: readonly string[] = [
  "general.hosts",
  "general.loglevel",
  ...S2S_LISTENER_KEYS.map((k) => `listen.s2s.${k}`),
  ...SERVICE_LISTENER_KEYS.map((k) => `listen.service.${k}`),
  ...S2S_KEYS.map((k) => `s2s.${k}`),
  "shaper.max_rate",
  "plugins",
];
