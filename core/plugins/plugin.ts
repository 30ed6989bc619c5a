import type { DependencyContainer, InjectionToken } from "tsyringe";
import type { S2sConfig } from "../config/types.js";
import type { Logger } from "../logging/logger.js";

/** How a plugin provides a token: a value, a class (constructed by the container), or a factory. */
export type Provider<T> =
  | { readonly useValue: T }
  | { readonly useClass: new (...args: never[]) => T }
  | { readonly useFactory: (container: DependencyContainer) => T };

/** Result of parsing a plugin's own options: the typed options, or problems as `key: what is wrong`. */
export type OptionsResult<O> = { readonly options: O; readonly problems?: undefined } | { readonly options?: undefined; readonly problems: readonly string[] };

/**
 * The options `register` receives. Written the natural way (`return { problems }` on one path,
 * `return { options }` on another), TypeScript infers `O` as `Options | undefined` from the two
 * branches, and `ctx.options.x` would fail under `strict` (TS18048); the loader never passes
 * `undefined`, so it is removed here. `unknown` (the loader's own view) stays `unknown`.
 */
export type Parsed<O> = unknown extends O ? O : NonNullable<O>;

export interface PluginContext<O> {
  /** This server instance's child container: resolve what you need from it. */
  readonly container: DependencyContainer;
  readonly config: S2sConfig;
  readonly options: O;
  readonly logger: Logger;
  /** Register a provider for a token the declaration lists in `provides`. */
  provide<T>(token: InjectionToken<T>, provider: Provider<T>): void;
}

/**
 * A plugin is a declaration first (docs/writing-a-plugin.md): what it is called, which tokens it provides and
 * needs, how it reads its options; `register` wires it into the server's container. The loader
 * checks the declaration before and after `register` and names the TOML path of every problem.
 */
export interface PluginDeclaration<O = Record<string, never>> {
  readonly name: string;
  readonly description: string;
  readonly provides: readonly InjectionToken<unknown>[];
  readonly requires?: readonly InjectionToken<unknown>[];
  /** `[s2s]` keys this plugin reads (documentation and `check-config` hints). */
  readonly s2sOptions?: readonly string[];
  /**
   * Parse `[plugins.<name>]` (without `module` and `enabled`). Problems are relative keys
   * (`servers: expected ...`); the loader prefixes `plugins.<name>.`. Absent: no options allowed.
   */
  parseOptions?(raw: Readonly<Record<string, unknown>>, config: S2sConfig): OptionsResult<O>;
  /** Called only with the options of a `{ options }` result, so they are never `undefined` (see `Parsed`). */
  register(context: PluginContext<Parsed<O>>): void | Promise<void>;
}

/** Identity helper that gives plugin authors type inference on their options. */
export function definePlugin<O>(declaration: PluginDeclaration<O>): PluginDeclaration<O> {
  return declaration;
}
