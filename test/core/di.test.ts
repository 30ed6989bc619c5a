/**
 * Dependency injection rules (docs/architecture.md):
 * - every `@injectable()` class in core/ and plugins/ has an `@inject(TOKEN)` on each constructor
 *   parameter: tsx/esbuild emit no decorator metadata, so a parameter without one is silently
 *   `undefined` at run time;
 * - one child container per server: two servers in one process share no plugin instance, and
 *   tsyringe's root container holds none of our tokens.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { container as rootContainer, type InjectionToken } from "tsyringe";
import { CLOCK } from "../../core/clock/clock.js";
import { LOGGER } from "../../core/logging/logger.js";
import { S2sListeners } from "../../core/server/s2s-listeners.js";
import { OutboundSessionManager } from "../../core/session/outbound-session-manager.js";
import { AUTHENTICATOR, CONNECTOR, LOCAL_DELIVERY, OUTBOUND_SESSIONS, POLICY, POLICY_CHAIN, RESOLVER, ROUTER, STREAM_PARSER_FACTORY, TLS_PROVIDER, TOKEN_CATALOG, TRAFFIC, tokenName } from "../../core/tokens.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { AllInjected, MissingFirstInject, MissingSecondInject, UndefinedToken } from "./fixtures/broken-injectable.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "../..");

/** tsyringe 4.10 keeps `@inject` data per class under this metadata key (reflection-helpers.js)... */
const INJECTION_TOKENS = "injectionTokens";
/** ...and `@injectable()` copies it into this map, which `container.resolve` reads (dependency-container.js). */
const { typeInfo } = createRequire(import.meta.url)("tsyringe/dist/cjs/dependency-container.js") as { typeInfo: Map<unknown, unknown[]> };

type Ctor = abstract new (...args: never[]) => unknown;

/**
 * The constructor parameters of `className` as written in `source` (TypeScript), split at
 * top-level commas; [] when the class has no constructor. Skips strings and comments.
 */
function constructorParams(source: string, className: string): string[] {
  const classAt = source.search(new RegExp(`\\bclass\\s+${className}\\b`));
  assert.ok(classAt >= 0, `class ${className} not found in its source`);
  const nextClass = source.slice(classAt + 1).search(/\bclass\s+\w+/);
  const region = nextClass < 0 ? source.slice(classAt) : source.slice(classAt, classAt + 1 + nextClass);
  const ctor = /\bconstructor\s*\(/.exec(region);
  if (!ctor) return [];
  const params: string[] = [];
  let current = "";
  let depth = 0;
  for (let i = ctor.index + ctor[0].length; i < region.length; i++) {
    const c = region[i]!;
    const rest = region.slice(i);
    if (rest.startsWith("//")) {
      i = region.indexOf("\n", i);
      continue;
    }
    if (rest.startsWith("/*")) {
      i = region.indexOf("*/", i) + 1;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (region[j] !== c) j += region[j] === "\\" ? 2 : 1;
      current += region.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === "(" || c === "[" || c === "{" || c === "<") depth++;
    else if (c === ">" && region[i - 1] === "=") {
      // `=>` in a function type is not a closing angle bracket
    } else if (c === ")" || c === "]" || c === "}" || c === ">") {
      if (depth === 0 && c === ")") break;
      depth--;
    } else if (c === "," && depth === 0) {
      params.push(current.trim());
      current = "";
      continue;
    }
    current += c;
  }
  if (current.trim()) params.push(current.trim());
  return params;
}

/** A parameter's name, for messages: `@inject(X) private readonly foo: Foo` -> `foo`. */
function paramName(param: string): string {
  const withoutDecorators = param.replace(/@\w+\((?:[^()]|\([^()]*\))*\)\s*/g, "");
  return /(\w+)\s*[?:=]|(\w+)\s*$/.exec(withoutDecorators.replace(/\b(?:private|public|protected|readonly|override)\s+/g, ""))?.slice(1).find(Boolean) ?? param;
}

/**
 * What tsyringe recorded for `Class` against its `params`: every parameter needs a defined token
 * in the `@inject` metadata and in the `typeInfo` that `resolve` uses. Returns problem lines.
 */
function injectionProblems(Class: Ctor, params: readonly string[], where: string): string[] {
  const problems: string[] = [];
  const name = `${where}: ${Class.name}`;
  const recorded = (Reflect.getOwnMetadata(INJECTION_TOKENS, Class) ?? {}) as Record<string, { token?: InjectionToken<unknown> } | undefined>;
  const info = typeInfo.get(Class);
  if (!info) problems.push(`${name}: not decorated with @injectable() (tsyringe has no typeInfo for it)`);
  params.forEach((param, i) => {
    const token = recorded[i]?.token;
    if (recorded[i] === undefined) problems.push(`${name}: constructor parameter ${i} (${paramName(param)}) has no @inject(TOKEN)`);
    else if (token === undefined || token === null) problems.push(`${name}: constructor parameter ${i} (${paramName(param)}) is injected with an undefined token (import cycle?)`);
    if (info && !(i in info)) problems.push(`${name}: tsyringe's typeInfo has no entry for constructor parameter ${i} (${paramName(param)})`);
  });
  for (const key of Object.keys(recorded)) if (Number(key) >= params.length) problems.push(`${name}: @inject on parameter ${key}, but the constructor has ${params.length}`);
  if (info && info.length > params.length) problems.push(`${name}: typeInfo lists ${info.length} parameters, the constructor has ${params.length}`);
  return problems;
}

/** Every `@injectable()` class in core/ and plugins/, found by scanning the TypeScript sources. */
function injectableSources(): Array<{ file: string; className: string; source: string }> {
  const found: Array<{ file: string; className: string; source: string }> = [];
  for (const top of ["core", "plugins"]) {
    const files = readdirSync(join(ROOT, top), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"));
    for (const f of files.sort()) {
      const file = join(ROOT, top, f);
      const source = readFileSync(file, "utf8");
      for (const m of source.matchAll(/@injectable\([^)]*\)\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+(\w+)/g)) {
        found.push({ file, className: m[1]!, source });
      }
      // A decorator on its own somewhere else (not right before a class) would escape the scan: refuse it.
      const total = source.match(/@injectable\(/g)?.length ?? 0;
      const matched = [...source.matchAll(/@injectable\([^)]*\)\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+\w+/g)].length;
      assert.equal(matched, total, `${relative(ROOT, file)}: an @injectable() the scan cannot pair with a class`);
    }
  }
  return found;
}

describe("every @injectable class has @inject(TOKEN) on each constructor parameter", () => {
  const sources = injectableSources();

  it("the scan finds the core's injectable classes", () => {
    const names = sources.map((s) => s.className);
    for (const expected of ["OrderedPolicyChain", "CoreRouter", "S2sListeners", "OutboundSessionManager"]) {
      assert.ok(names.includes(expected), `scan did not find ${expected} (found ${names.join(", ")})`);
    }
  });

  for (const { file, className, source } of sources) {
    const where = relative(ROOT, file);
    it(`${className} (${where})`, async () => {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      const Class = mod[className] as Ctor | undefined;
      assert.equal(typeof Class, "function", `${where}: ${className} must be exported so this test can check it`);
      const params = constructorParams(source, className);
      // The source parse and the compiled class agree on the number of parameters (none has a default value here).
      const hasDefault = params.some((p) => /=/.test(p.replace(/=>/g, "")));
      if (!hasDefault) assert.equal(Class!.length, params.length, `${where}: ${className}.length vs parsed parameters ${JSON.stringify(params)}`);
      // Written in the source...
      params.forEach((p, i) => assert.match(p, /^@inject(All)?\(/, `${where}: ${className} constructor parameter ${i} (${paramName(p)}) has no @inject(TOKEN) in the source`));
      // ...and recorded by tsyringe with a defined token.
      assert.deepEqual(injectionProblems(Class!, params, where), []);
    });
  }
});

describe("the @inject check catches broken classes (test/core/fixtures/broken-injectable.ts)", () => {
  const file = join(HERE, "fixtures/broken-injectable.ts");
  const source = readFileSync(file, "utf8");
  const check = (Class: Ctor) => injectionProblems(Class, constructorParams(source, Class.name), "fixture");

  it("parses the fixture constructors", () => {
    assert.deepEqual(constructorParams(source, "MissingSecondInject"), ["readonly logger: Logger", "readonly clock: Clock"]);
    assert.deepEqual(constructorParams("class A { constructor(@inject(X) private readonly f: (a: Map<string, number>, b: string) => void, /* c, d */ g: \"x,y\") {} }", "A").length, 2);
    assert.deepEqual(constructorParams("class B { run() {} }", "B"), []);
  });

  it("a missing @inject on the second parameter", () => {
    assert.deepEqual(check(MissingSecondInject), [
      "fixture: MissingSecondInject: constructor parameter 1 (clock) has no @inject(TOKEN)",
      "fixture: MissingSecondInject: tsyringe's typeInfo has no entry for constructor parameter 1 (clock)",
    ]);
  });

  it("a missing @inject on the first parameter (a hole, not a shorter list)", () => {
    assert.deepEqual(check(MissingFirstInject), [
      "fixture: MissingFirstInject: constructor parameter 0 (logger) has no @inject(TOKEN)",
      "fixture: MissingFirstInject: tsyringe's typeInfo has no entry for constructor parameter 0 (logger)",
    ]);
  });

  it("an @inject whose token was undefined when the decorator ran", () => {
    assert.deepEqual(check(UndefinedToken), ["fixture: UndefinedToken: constructor parameter 0 (logger) is injected with an undefined token (import cycle?)"]);
  });

  it("no problem for a correct class", () => {
    assert.deepEqual(check(AllInjected), []);
  });

  it("why it matters: tsyringe builds the broken class with `undefined` and says nothing", () => {
    const scratch = rootContainer.createChildContainer();
    scratch.register(LOGGER, { useValue: "the logger" as never });
    scratch.register(CLOCK, { useValue: "the clock" as never });
    const broken = scratch.resolve(MissingSecondInject);
    assert.equal(broken.logger, "the logger");
    assert.equal(broken.clock, undefined);
    const fine = scratch.resolve(AllInjected);
    assert.equal(fine.clock, "the clock");
  });
});

describe("one child container per server", () => {
  let a: TestNode;
  let b: TestNode;
  before(async () => {
    a = await startNode({ hosts: ["a.example"], ip: "127.0.0.43" });
    b = await startNode({ hosts: ["b.example"], ip: "127.0.0.44" });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("each server has its own container", () => {
    assert.notEqual(a.server.container, b.server.container);
    assert.notEqual(a.server.container, rootContainer);
  });

  it("two servers in one process share no core or plugin instance", () => {
    for (const token of [ROUTER, POLICY_CHAIN, RESOLVER, CONNECTOR, TLS_PROVIDER, STREAM_PARSER_FACTORY]) {
      const ia = a.server.container.resolve(token as InjectionToken<object>);
      const ib = b.server.container.resolve(token as InjectionToken<object>);
      assert.ok(ia && ib, `${tokenName(token)} not resolvable`);
      assert.notEqual(ia, ib, `${tokenName(token)} is shared between the two servers`);
    }
    for (const token of [POLICY, AUTHENTICATOR, LOCAL_DELIVERY]) {
      const all = a.server.container.resolveAll(token as InjectionToken<object>);
      const others = new Set(b.server.container.resolveAll(token as InjectionToken<object>));
      assert.ok(all.length > 0);
      for (const instance of all) assert.ok(!others.has(instance), `a ${tokenName(token)} instance is shared between the two servers`);
    }
    for (const token of [OUTBOUND_SESSIONS, TRAFFIC]) assert.notEqual(a.server.container.resolve(token as InjectionToken<object>), b.server.container.resolve(token as InjectionToken<object>), tokenName(token));
    assert.notEqual(a.server.container.resolve(S2sListeners), b.server.container.resolve(S2sListeners));
  });

  it("within one server, core classes and factory plugins are single instances", () => {
    const c = a.server.container;
    assert.equal(c.resolve(ROUTER), c.resolve(ROUTER));
    assert.equal(c.resolve(OUTBOUND_SESSIONS), c.resolve(OutboundSessionManager));
    assert.equal(c.resolve(S2sListeners), c.resolve(S2sListeners));
    assert.equal(c.resolve(CONNECTOR), c.resolve(CONNECTOR));
    assert.deepEqual(c.resolveAll(LOCAL_DELIVERY), c.resolveAll(LOCAL_DELIVERY));
    assert.equal(c.resolveAll(LOCAL_DELIVERY)[0], c.resolveAll(LOCAL_DELIVERY)[0]);
  });

  it("each server routes with its own configuration", () => {
    assert.equal(a.server.container.resolve(ROUTER).isLocalDomain("a.example"), true);
    assert.equal(a.server.container.resolve(ROUTER).isLocalDomain("b.example"), false);
    assert.equal(b.server.container.resolve(ROUTER).isLocalDomain("b.example"), true);
  });

  it("tsyringe's root container has none of our registrations", () => {
    for (const { token } of TOKEN_CATALOG) assert.equal(rootContainer.isRegistered(token, true), false, `${tokenName(token)} is registered in the root container`);
    assert.equal(rootContainer.isRegistered(OutboundSessionManager, true), false);
    assert.equal(rootContainer.isRegistered(S2sListeners, true), false);
  });
});
