/**
 * The built-in plugins that own `[s2s]` keys, each with the validator from its own `options.ts`
 * (s2s-section.ts). Listed statically because a file is validated synchronously
 * (`parseConfig`), before any plugin is loaded.
 *
 * Those `options.ts` files import the public API (core/index.ts), which reaches back here: an
 * import cycle. It is safe because neither side uses the other's bindings at module evaluation:
 * the list is built inside a function, and owners' `validate` functions read the API only when
 * called. Keep it so: no top-level call to an imported helper in a plugin's `options.ts`.
 */
import { dialbackS2sOptions } from "../../plugins/dialback/options.js";
import { hostPolicyS2sOptions } from "../../plugins/host_policy/options.js";
import { tcpS2sOptions } from "../../plugins/tcp/options.js";
import { dnsS2sOptions } from "../../plugins/dns/options.js";
import { nodeTlsS2sOptions } from "../../plugins/node_tls/options.js";
import type { S2sOwner } from "./s2s-section.js";

/** In the order their problems are reported (roughly MongooseIM's documentation order). */
export function builtinS2sOwners(): readonly S2sOwner[] {
  return [hostPolicyS2sOptions, nodeTlsS2sOptions, dialbackS2sOptions, tcpS2sOptions, dnsS2sOptions];
}
