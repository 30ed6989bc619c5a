import type { PluginDeclaration } from "./plugin.js";
import type { SlotName } from "../tokens.js";

/**
 * Built-in plugins by name. Loaded lazily so that a config naming one plugin does not pay for
 * the others, and so the core never imports plugin code at module load (no import cycles).
 */
export const BUILTIN_PLUGINS: Readonly<Record<string, () => Promise<{ default: PluginDeclaration<any> }>>> = {
  saxes: () => import("../../plugins/saxes/index.js"),
  dns: () => import("../../plugins/dns/index.js"),
  static_resolver: () => import("../../plugins/static_resolver/index.js"),
  tcp: () => import("../../plugins/tcp/index.js"),
  node_tls: () => import("../../plugins/node_tls/index.js"),
  dialback: () => import("../../plugins/dialback/index.js"),
  sasl_external: () => import("../../plugins/sasl_external/index.js"),
  host_policy: () => import("../../plugins/host_policy/index.js"),
  echo: () => import("../../plugins/echo/index.js"),
  host_services: () => import("../../plugins/host_services/index.js"),
  components: () => import("../../plugins/components/index.js"),
  stream_management: () => import("../../plugins/stream_management/index.js"),
};

/** What fills each slot when `[plugins]` says nothing: a MongooseIM `[s2s]` section alone is a complete config. */
export const DEFAULT_SLOTS: Readonly<Record<SlotName, string | readonly string[]>> = {
  stream: "saxes",
  resolver: "dns",
  connector: "tcp",
  tls: "node_tls",
  policy: ["host_policy"],
  authenticators: ["sasl_external", "dialback"],
  local_delivery: ["components", "echo", "host_services"],
  sm: ["stream_management"],
};
