import { isAbsolute, resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import type { DependencyContainer, InjectionToken } from "tsyringe";
import { Lifecycle } from "../cjs/tsyringe.js";
import type { S2sConfig } from "../config/types.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import { TOKEN_CATALOG, tokenName, type SlotName, type TokenInfo } from "../tokens.js";
import { BUILTIN_PLUGINS, DEFAULT_SLOTS } from "./builtin.js";
import type { PluginDeclaration, Provider } from "./plugin.js";
import { closestMatch, formatValue } from "./text.js";
import { resolvePackage } from "./resolve-package.js";
import { unreadS2sKeys } from "./s2s-keys.js";

const SLOT_NAMES = Object.keys(DEFAULT_SLOTS) as SlotName[];
const RESERVED_PLUGIN_KEYS = new Set(["module", "enabled"]);

interface PluginEntry {
  readonly name: string;
  readonly declaration: PluginDeclaration<unknown>;
  readonly table: Readonly<Record<string, unknown>>;
  readonly path: string;
}

interface Provision {
  readonly plugin: string;
  readonly token: InjectionToken<unknown>;
  readonly provider: Provider<unknown>;
  /** What the plugin may resolve (a declaration says what it needs; docs/writing-a-plugin.md). */
  readonly guard: ResolveGuard;
}

export interface LoadedPlugins {
  /** Enabled plugins in load order. */
  readonly names: readonly string[];
  /** Which plugins fill each slot, in order. */
  readonly slots: Readonly<Record<SlotName, readonly string[]>>;
  /** `[s2s]` keys set in the file that no enabled plugin reads (logged as `s2s_option_unread`). */
  readonly warnings: readonly string[];
}

interface ResolvedPlugins {
  readonly entries: readonly PluginEntry[];
  readonly slotChoice: Map<SlotName, { names: string[]; explicit: boolean }>;
  readonly parsed: Map<string, unknown>;
}

/**
 * Every problem of `[plugins]` that can be found without registering anything: slot values,
 * unknown plugin names and tables, modules that do not load, declarations, slot cardinality,
 * requirements and each plugin's options, all in one pass (the docs promise "all at once"; issue
 * 19 saw one file's problems come out over several runs). Used by `check-config` even when the
 * rest of the file has problems, so one run lists everything.
 */
export async function checkPlugins(config: S2sConfig): Promise<readonly string[]> {
  const problems: string[] = [];
  await resolvePlugins(config, problems);
  return problems;
}

/** For `check-config`: the warnings `loadPlugins` would log for a valid config (see `unreadS2sKeys`). */
export async function pluginWarnings(config: S2sConfig): Promise<readonly string[]> {
  const problems: string[] = [];
  const { entries } = await resolvePlugins(config, problems);
  return problems.length > 0 ? [] : unreadS2sKeys(config, entries);
}

async function resolvePlugins(config: S2sConfig, problems: string[]): Promise<ResolvedPlugins> {
  const section = config.plugins;
  const slotChoice = new Map<SlotName, { names: string[]; explicit: boolean }>();
  const tables = new Map<string, Readonly<Record<string, unknown>>>();

  for (const [key, value] of Object.entries(section)) {
    if ((SLOT_NAMES as string[]).includes(key)) continue;
    if (isTable(value)) {
      tables.set(key, value);
      continue;
    }
    const hint = closestMatch(key, SLOT_NAMES);
    problems.push(`plugins.${key}: unknown key (got ${formatValue(value)}, expected a slot (${SLOT_NAMES.join(", ")}) or a [plugins.<name>] table${hint ? `; did you mean "${hint}"?` : ""})`);
  }

  for (const slot of SLOT_NAMES) {
    const info = slotInfo(slot);
    const raw = section[slot];
    if (raw === undefined) {
      const def = DEFAULT_SLOTS[slot];
      slotChoice.set(slot, { names: typeof def === "string" ? [def] : [...def], explicit: false });
      continue;
    }
    if (info.cardinality === "one") {
      if (typeof raw !== "string" || raw === "") {
        problems.push(`plugins.${slot}: expected a plugin name (got ${formatValue(raw)}, expected a string)`);
        continue;
      }
      slotChoice.set(slot, { names: [raw], explicit: true });
    } else {
      if (!Array.isArray(raw) || raw.some((n) => typeof n !== "string" || n === "")) {
        problems.push(`plugins.${slot}: expected an ordered list of plugin names (got ${formatValue(raw)}, expected an array of strings)`);
        continue;
      }
      const names = raw as string[];
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup) problems.push(`plugins.${slot}: plugin listed twice (got ${formatValue(raw)}, expected unique names; "${dup}" repeats)`);
      slotChoice.set(slot, { names: [...names], explicit: true });
    }
  }

  // Names a "did you mean" may suggest: built-in plugins and every plugin the file configures
  // (tables with a `module`, names written in slots), minus the misspelled name itself.
  const configured = [
    ...[...tables].filter(([, t]) => t.module !== undefined).map(([n]) => n),
    ...[...slotChoice.values()].filter((c) => c.explicit).flatMap((c) => c.names),
  ];
  const suggest = (name: string) => closestMatch(name, [...new Set([...Object.keys(BUILTIN_PLUGINS), ...configured])].filter((n) => n !== name));
  const isKnown = (name: string, table: Readonly<Record<string, unknown>> | undefined) => name in BUILTIN_PLUGINS || table?.module !== undefined;

  // A table for a plugin that exists nowhere is a typo (`[plugins.ech] enabled = false` meant
  // `echo`): reported whatever it says, since ignoring it would leave the intended plugin as it was.
  for (const [name, table] of tables) {
    if (isKnown(name, table)) continue;
    const hint = suggest(name);
    problems.push(`plugins.${name}: unknown plugin (got ${formatValue(table)}, expected a table for a built-in plugin (${Object.keys(BUILTIN_PLUGINS).join(", ")}) or one with "module"${hint ? `; did you mean "${hint}"?` : ""})`);
  }

  // `enabled = false` removes a plugin from default lists; naming it in a slot and disabling it is a contradiction.
  for (const [name, table] of tables) {
    const enabled = table.enabled;
    if (enabled !== undefined && typeof enabled !== "boolean") {
      problems.push(`plugins.${name}.enabled: expected a boolean (got ${formatValue(enabled)}, expected true or false)`);
      continue;
    }
    if (enabled !== false) continue;
    for (const [slot, choice] of slotChoice) {
      if (!choice.names.includes(name)) continue;
      if (choice.explicit) problems.push(`plugins.${name}.enabled: plugin is disabled but plugins.${slot} names it (got false, expected true or remove it from plugins.${slot})`);
      else choice.names = choice.names.filter((n) => n !== name);
    }
  }

  const wanted: string[] = [];
  // Where each wanted name was written, for problems about the name itself (unknown plugin).
  const origin = new Map<string, string>();
  const want = (name: string, where: string) => {
    if (!wanted.includes(name)) wanted.push(name);
    if (!origin.has(name)) origin.set(name, where);
  };
  for (const slot of SLOT_NAMES) {
    const choice = slotChoice.get(slot);
    if (!choice) continue;
    const listed = Array.isArray(section[slot]);
    choice.names.forEach((name, i) => want(name, choice.explicit ? (listed ? `plugins.${slot}[${i}]` : `plugins.${slot}`) : `plugins.${name}`));
  }
  for (const [name, table] of tables) {
    if (!isKnown(name, table)) continue; // reported above
    if (table.enabled === true || (table.module !== undefined && table.enabled !== false)) want(name, `plugins.${name}`);
  }

  const entries: PluginEntry[] = [];
  /** Names that could not be loaded (already reported): slot checks about them would only repeat it. */
  const failed = new Set<string>();
  for (const name of wanted) {
    const table = tables.get(name) ?? {};
    const path = `plugins.${name}`;
    try {
      const declaration = await importDeclaration(name, table, config, path, origin.get(name) ?? path, problems, suggest);
      if (declaration) entries.push({ name, declaration, table, path });
      else failed.add(name);
    } catch (err) {
      failed.add(name);
      problems.push(`${path}.module: cannot load plugin (got ${formatValue(table.module ?? name)}, expected a module exporting a plugin declaration: ${(err as Error).message})`);
    }
  }
  for (const [name, table] of tables) {
    if (wanted.includes(name) || table.enabled === false || !isKnown(name, table)) continue;
    if (table.enabled !== undefined && typeof table.enabled !== "boolean") continue; // reported above
    // Options for a built-in plugin that no slot uses would be silently ignored: refuse them.
    problems.push(`plugins.${name}: plugin is not enabled, so its options would be ignored (got ${formatValue(table)}, expected enabled = true, or its name in a [plugins] slot, or enabled = false)`);
  }

  checkSlots(entries, slotChoice, problems, failed);
  const parsed = parseAllOptions(entries, config, problems);
  return { entries, slotChoice, parsed };
}

/**
 * Reads `[plugins]`, loads every enabled plugin (built-in by name, third-party by `module`),
 * checks the declarations and registers what they provide into the server's child container.
 * All problems are collected and thrown at once as a ConfigError with TOML paths.
 */
export async function loadPlugins(container: DependencyContainer, config: S2sConfig, logger: Logger): Promise<LoadedPlugins> {
  const problems: string[] = [];
  const { entries, slotChoice, parsed } = await resolvePlugins(config, problems);
  if (problems.length) throw new ConfigError(problems);
  const warnings = unreadS2sKeys(config, entries);
  for (const warning of warnings) logger.warn({ what: "s2s_option_unread", warning });

  // Register: collect provisions first, then write single slots as-is and many slots in slot order.
  const provisions: Provision[] = [];
  for (const entry of entries) {
    const declared = new Set(entry.declaration.provides);
    const made = new Set<InjectionToken<unknown>>();
    const guard = resolveGuard(entry);
    await entry.declaration.register({
      container: guard.wrap(container),
      config,
      options: parsed.get(entry.name),
      logger: logger.child({ plugin: entry.name }),
      provide: (token, provider) => {
        if (!declared.has(token)) {
          problems.push(`${entry.path}: plugin registered ${tokenName(token)} which its declaration does not list in provides (got ${tokenName(token)}, expected one of ${[...declared].map(tokenName).join(", ") || "nothing"})`);
          return;
        }
        const undeclared = "useClass" in provider ? guard.undeclaredIn(injectionTokensOf(provider.useClass)) : undefined;
        if (undeclared !== undefined) {
          problems.push(guard.problem(undeclared));
          return;
        }
        made.add(token);
        provisions.push({ plugin: entry.name, token, provider: provider as Provider<unknown>, guard });
      },
    });
    for (const token of declared) {
      if (!made.has(token)) problems.push(`${entry.path}: plugin declares ${tokenName(token)} but did not register it (got nothing, expected a provider for ${tokenName(token)})`);
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const slots = {} as Record<SlotName, string[]>;
  for (const slot of SLOT_NAMES) slots[slot] = [];
  for (const info of TOKEN_CATALOG.filter((t) => !t.core)) {
    const ofToken = provisions.filter((p) => p.token === info.token);
    const ordered = info.slot && info.cardinality === "many"
      ? slotChoice.get(info.slot)!.names.flatMap((n) => ofToken.filter((p) => p.plugin === n))
      : ofToken;
    for (const p of ordered) {
      registerProvider(container, p);
      if (info.slot) slots[info.slot].push(p.plugin);
    }
  }
  // Tokens outside the catalog (a plugin's own extension points) are registered as they came.
  const known = new Set(TOKEN_CATALOG.map((t) => t.token));
  for (const p of provisions) if (!known.has(p.token)) registerProvider(container, p);

  return { names: entries.map((e) => e.name), slots, warnings };
}

function slotInfo(slot: SlotName): TokenInfo {
  return TOKEN_CATALOG.find((t) => t.slot === slot)!;
}

function registerProvider(container: DependencyContainer, { token, provider, guard }: Provision): void {
  if ("useClass" in provider) container.register(token, { useClass: provider.useClass as never }, { lifecycle: Lifecycle.ContainerScoped });
  else if ("useFactory" in provider) {
    // Factories run once per server: cache the instance like a container-scoped class. They get
    // the server's container through the plugin's guard, so they resolve only what it declared.
    let made = false;
    let instance: unknown;
    container.register(token, { useFactory: (c) => (made ? instance : ((made = true), (instance = provider.useFactory(guard.wrap(c))))) });
  } else container.register(token, { useValue: provider.useValue });
}

/** Tokens every plugin may resolve without declaring them: those the core itself fills. */
const CORE_TOKENS: ReadonlySet<InjectionToken<unknown>> = new Set(TOKEN_CATALOG.filter((t) => t.core).map((t) => t.token));

interface ResolveGuard {
  /** The container as this plugin sees it: resolving an undeclared token throws a ConfigError. */
  wrap(container: DependencyContainer): DependencyContainer;
  /** The first token of `tokens` the plugin may not resolve, if any. */
  undeclaredIn(tokens: readonly InjectionToken<unknown>[]): InjectionToken<unknown> | undefined;
  problem(token: InjectionToken<unknown>): string;
}

/**
 * `requires` is enforced, not advisory (docs/writing-a-plugin.md): a plugin resolves core tokens and the tokens
 * it lists in `requires`, nothing else, whether through `ctx.container`, a factory's container
 * or a class's `@inject` parameters (checked when it is provided, before anything is built).
 */
function resolveGuard(entry: PluginEntry): ResolveGuard {
  const requires = entry.declaration.requires ?? [];
  const allowed = new Set<InjectionToken<unknown>>([...CORE_TOKENS, ...requires]);
  const problem = (token: InjectionToken<unknown>) =>
    `${entry.path}: requires does not list ${tokenName(token)}, which the plugin resolves (got requires ${formatValue(requires.map(tokenName))}, expected every token the plugin resolves other than the core's: add ${tokenName(token)} to requires)`;
  const check = (token: InjectionToken<unknown>) => {
    if (!allowed.has(token)) throw new ConfigError([problem(token)]);
  };
  return {
    problem,
    undeclaredIn: (tokens) => tokens.find((t) => !allowed.has(t)),
    wrap: (container) =>
      new Proxy(container, {
        get(target, prop) {
          if (prop === "resolve" || prop === "resolveAll") {
            return (token: InjectionToken<unknown>, ...rest: unknown[]) => {
              check(token);
              return (target[prop] as (t: InjectionToken<unknown>, ...r: unknown[]) => unknown)(token, ...rest);
            };
          }
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
  };
}

/**
 * The tokens of a class's `@inject`/`@injectAll` constructor parameters, as tsyringe records them
 * (metadata key "injectionTokens": parameter index -> token, or `{ token, multiple }` for injectAll).
 */
function injectionTokensOf(cls: unknown): InjectionToken<unknown>[] {
  const recorded = (Reflect.getOwnMetadata("injectionTokens", cls as object) ?? {}) as Record<number, unknown>;
  return Object.values(recorded).map((t) => (typeof t === "object" && t !== null && "token" in t ? (t as { token: InjectionToken<unknown> }).token : (t as InjectionToken<unknown>)));
}

/**
 * `path` is the plugin's own table (`plugins.<name>`); `namedAt` is where its name was written
 * (`plugins.resolver`, `plugins.policy[1]` or the table), which is where an unknown name is reported.
 */
async function importDeclaration(
  name: string,
  table: Readonly<Record<string, unknown>>,
  config: S2sConfig,
  path: string,
  namedAt: string,
  problems: string[],
  suggest: (name: string) => string | undefined,
): Promise<PluginDeclaration<unknown> | undefined> {
  const moduleRef = table.module;
  let mod: { default?: unknown; plugin?: unknown };
  if (moduleRef !== undefined) {
    if (typeof moduleRef !== "string" || moduleRef === "") {
      problems.push(`${path}.module: expected a file path or package name (got ${formatValue(moduleRef)}, expected a string)`);
      return undefined;
    }
    // A path (starts with . or /) is relative to the config file's folder; anything else is a package name.
    const isPath = moduleRef.startsWith(".") || isAbsolute(moduleRef);
    const specifier = isPath ? pathToFileURL(resolvePath(config.baseDir, moduleRef)).href : resolvePackage(moduleRef, config.baseDir);
    mod = await import(specifier);
  } else if (name in BUILTIN_PLUGINS) {
    mod = await BUILTIN_PLUGINS[name]!();
  } else {
    const hint = suggest(name);
    problems.push(`${namedAt}: unknown plugin (got ${formatValue(name)}, expected a built-in plugin (${Object.keys(BUILTIN_PLUGINS).join(", ")}) or a [${path}] table with "module"${hint ? `; did you mean "${hint}"?` : ""})`);
    return undefined;
  }
  const declaration = (mod.default ?? mod.plugin) as PluginDeclaration<unknown> | undefined;
  const shapeProblem = checkDeclarationShape(declaration);
  if (shapeProblem) {
    problems.push(`${path}${moduleRef !== undefined ? ".module" : ""}: not a plugin declaration (got ${formatValue(moduleRef ?? name)}, expected ${shapeProblem})`);
    return undefined;
  }
  return declaration;
}

function checkDeclarationShape(d: PluginDeclaration<unknown> | undefined): string | undefined {
  if (!d || typeof d !== "object") return "a default export made with definePlugin()";
  if (typeof d.name !== "string" || !d.name) return "a non-empty `name`";
  if (!Array.isArray(d.provides)) return "a `provides` array of tokens";
  if (typeof d.register !== "function") return "a `register(context)` function";
  return undefined;
}

function checkSlots(
  entries: readonly PluginEntry[],
  slotChoice: Map<SlotName, { names: string[]; explicit: boolean }>,
  problems: string[],
  failed: ReadonlySet<string>,
): void {
  const providersOf = (token: InjectionToken<unknown>) => entries.filter((e) => e.declaration.provides.includes(token)).map((e) => e.name);
  for (const info of TOKEN_CATALOG) {
    if (info.core || !info.slot) continue;
    const providers = providersOf(info.token);
    const choice = slotChoice.get(info.slot);
    // A slot whose value is malformed, or names a plugin that did not load, is already reported.
    if (choice === undefined || choice.names.some((n) => failed.has(n))) continue;
    if (info.cardinality === "one") {
      if (providers.length > 1) problems.push(`plugins.${info.slot}: two providers for a single slot (got ${formatValue(providers)}, expected one; choose with plugins.${info.slot} = "<name>" and disable the other)`);
      if (providers.length === 0) problems.push(`plugins.${info.slot}: no plugin provides ${tokenName(info.token)} (got ${formatValue(choice.names)}, expected a plugin that provides it)`);
      for (const name of choice.names) {
        const entry = entries.find((e) => e.name === name);
        if (entry && !entry.declaration.provides.includes(info.token)) problems.push(`plugins.${info.slot}: plugin "${name}" does not provide ${tokenName(info.token)} (got "${name}", expected a plugin that provides it)`);
      }
    } else {
      for (const name of choice.names) {
        const entry = entries.find((e) => e.name === name);
        if (entry && !entry.declaration.provides.includes(info.token)) problems.push(`plugins.${info.slot}: plugin "${name}" does not provide ${tokenName(info.token)} (got "${name}", expected plugins that provide it)`);
      }
      for (const name of providers) {
        if (choice.names.includes(name)) continue;
        // Default lists take other enabled providers at the end; an explicit list is the operator's order.
        if (!choice.explicit) choice.names.push(name);
        // A plugin enabled for another slot may stay out of an explicit list of this one.
        else if (![...slotChoice].some(([other, c]) => other !== info.slot && c.names.includes(name))) {
          problems.push(`plugins.${info.slot}: enabled plugin "${name}" provides ${tokenName(info.token)} but is not listed (got ${formatValue(choice.names)}, expected it in the list, in order)`);
        }
      }
    }
  }
  const provided = new Set(entries.flatMap((e) => e.declaration.provides));
  // Core tokens are always there; a many-slot may be empty (`authenticators = []`), which a plugin
  // that requires it sees as an empty list, not as a missing requirement.
  for (const info of TOKEN_CATALOG) if (info.core || info.defaulted || info.cardinality === "many") provided.add(info.token);
  for (const entry of entries) {
    for (const token of entry.declaration.requires ?? []) {
      if (!provided.has(token) && failed.size === 0) problems.push(`${entry.path}: missing requirement (got no provider for ${tokenName(token)}, expected an enabled plugin that provides it)`);
    }
  }
}

function parseAllOptions(entries: readonly PluginEntry[], config: S2sConfig, problems: string[]): Map<string, unknown> {
  const parsed = new Map<string, unknown>();
  for (const entry of entries) {
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry.table)) if (!RESERVED_PLUGIN_KEYS.has(k)) raw[k] = v;
    if (!entry.declaration.parseOptions) {
      for (const [k, v] of Object.entries(raw)) problems.push(`${entry.path}.${k}: unknown option (got ${formatValue(v)}, expected no options for this plugin)`);
      parsed.set(entry.name, {});
      continue;
    }
    let result;
    try {
      result = entry.declaration.parseOptions(raw, config);
    } catch (err) {
      problems.push(`${entry.path}: option parser failed (got ${formatValue(raw)}, expected valid options: ${(err as Error).message})`);
      continue;
    }
    if (result.problems) for (const p of result.problems) problems.push(`${entry.path}.${p}`);
    else parsed.set(entry.name, result.options);
  }
  return parsed;
}

function isTable(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
