import { builtinS2sOwners } from "../config/s2s-owners.js";
import { s2sKeysSet } from "../config/s2s-section.js";
import type { S2sConfig } from "../config/types.js";
import type { PluginDeclaration } from "./plugin.js";

/**
 * `[s2s]` keys the file sets that only disabled plugins read: one warning each, naming them
 * (`s2s.certfile: read by plugin node_tls, which is not enabled, ...`). A key nobody at all reads
 * cannot get here (it is an unknown key, refused while the file is validated); a key no plugin
 * claims is the core's, and always read.
 *
 * Readers are the built-in owners (core/config/s2s-owners.ts, enabled or not) and each enabled
 * plugin's `s2sOptions`: a third-party plugin that replaces node_tls and declares `certfile`
 * silences the warning about node_tls.
 */
export function unreadS2sKeys(config: S2sConfig, enabled: readonly { readonly name: string; readonly declaration: PluginDeclaration<unknown> }[]): string[] {
  const readers = new Map<string, Set<string>>();
  const add = (key: string, plugin: string) => readers.set(key, (readers.get(key) ?? new Set()).add(plugin));
  for (const owner of builtinS2sOwners()) for (const key of owner.keys) add(key, owner.plugin);
  for (const entry of enabled) for (const key of entry.declaration.s2sOptions ?? []) add(key, entry.name);
  const on = new Set(enabled.map((e) => e.name));

  const warnings: string[] = [];
  for (const key of s2sKeysSet(config)) {
    // [cluster] needs s2s.shared on every node (core/cluster/options.ts), dialback or not.
    if (key === "shared" && config.cluster !== undefined) continue;
    const who = [...readers].filter(([k]) => key === k || key.startsWith(`${k}.`) || k.startsWith(`${key}.`)).flatMap(([, names]) => [...names]);
    if (who.length === 0 || who.some((name) => on.has(name))) continue;
    const names = [...new Set(who)];
    warnings.push(
      `s2s.${key}: read by plugin ${names.join(" and ")}, which ${names.length > 1 ? "are" : "is"} not enabled, so it has no effect (enable ${names.length > 1 ? "one of them" : "it"} in [plugins], or remove the key)`,
    );
  }
  return warnings;
}
