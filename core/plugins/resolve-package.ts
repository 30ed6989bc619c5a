import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A package name is resolved like an import written in a file in the config's folder: its
 * `node_modules`, then the parents' (so a plugin installed next to the config is found, not only
 * one installed next to xmpp-s2s). Packages found nowhere there fall back to xmpp-s2s's own
 * resolution (plugins installed alongside it, e.g. globally). Returns an import specifier.
 */
export function resolvePackage(name: string, baseDir: string): string {
  const require = createRequire(join(baseDir, "noop.js"));
  try {
    return pathToFileURL(require.resolve(name)).href;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
      // `require.resolve` applies the "require" conditions; an ESM-only package exports "import".
      const entry = resolveEsmOnlyPackage(name, require);
      if (entry) return pathToFileURL(entry).href;
      throw err;
    }
    if (code === "MODULE_NOT_FOUND") return name;
    throw err;
  }
}

/** The "import" entry of a package whose `exports` offer no "require"/"default" target (no subpath patterns). */
function resolveEsmOnlyPackage(name: string, require: NodeRequire): string | undefined {
  const parts = name.split("/");
  const packageName = name.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
  const subpath = `.${name.slice(packageName.length)}`;
  for (const dir of require.resolve.paths(packageName) ?? []) {
    const packageJson = join(dir, packageName, "package.json");
    if (!existsSync(packageJson)) continue;
    const exports = (JSON.parse(readFileSync(packageJson, "utf8")) as { exports?: unknown }).exports;
    const bySubpath = isTable(exports) && Object.keys(exports).some((k) => k.startsWith("."));
    const target = exportTarget(bySubpath ? (exports as Record<string, unknown>)[subpath] : subpath === "." ? exports : undefined);
    return target === undefined ? undefined : join(dir, packageName, target);
  }
  return undefined;
}

/** First target for the conditions of an ESM import (in the order the package lists them). */
function exportTarget(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry;
  if (Array.isArray(entry)) {
    for (const e of entry) {
      const t = exportTarget(e);
      if (t !== undefined) return t;
    }
    return undefined;
  }
  if (isTable(entry)) {
    for (const [condition, value] of Object.entries(entry)) {
      if (condition !== "import" && condition !== "node" && condition !== "default") continue;
      const t = exportTarget(value);
      if (t !== undefined) return t;
    }
  }
  return undefined;
}


function isTable(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
