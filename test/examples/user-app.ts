/**
 * Helpers for test/examples: an operator's deployment folder in a temp directory, set up the way
 * `npm install` would set it up, so the example plugins load through TOML exactly as they would
 * for a user:
 *
 *   <app>/node_modules/xmpp-s2s       -> symlink to this repository (the framework, whose
 *                                        package.json exports dist/core/index.js)
 *   <app>/node_modules/<example pkg>/ a copy of examples/<example> (`install`: loaded by package name)
 *   <app>/plugins/<example>/          a copy vendored next to the config (`vendor`: loaded by path)
 *   <app>/<node>.toml, data files     written by the test
 *
 * Copies, not symlinks: Node resolves a module from its real path, and from examples/* inside this
 * repository "xmpp-s2s" does not resolve (their own package.json stops self-reference, and the
 * repository has no node_modules/xmpp-s2s), exactly as for a plugin the user installed.
 */
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execFile } from "node:child_process";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { ReplaySubject, type Observable } from "rxjs";
import { createServer, loadConfigFile, type S2sServer } from "../../core/index.js";
import { createLogger, type Logger } from "../../core/logging/logger.js";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const EXAMPLES = join(REPO, "examples");

export class UserApp {
  readonly dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-examples-"));

  constructor() {
    // The examples import "xmpp-s2s", i.e. this package's `exports`: dist/core/index.js.
    if (!existsSync(join(REPO, "dist/core/index.js"))) {
      throw new Error("dist/core/index.js is missing: run `npm run build` (`npm ci` and `npm test` do it) before test/examples");
    }
    mkdirSync(join(this.dir, "node_modules"));
    symlinkSync(REPO, join(this.dir, "node_modules/xmpp-s2s"), "dir");
  }

  /** `npm install` of examples/<example>: a copy in node_modules under its package name, which is returned. */
  install(example: string): string {
    const name = (JSON.parse(readFileSync(join(EXAMPLES, example, "package.json"), "utf8")) as { name: string }).name;
    cpSync(join(EXAMPLES, example), join(this.dir, "node_modules", name), { recursive: true, filter: (src) => !src.includes("node_modules") });
    return name;
  }

  /** A copy of examples/<example> at `to` (relative to the app folder), to load by path. */
  vendor(example: string, to: string): void {
    cpSync(join(EXAMPLES, example), join(this.dir, to), { recursive: true, filter: (src) => !src.includes("node_modules") });
  }

  /**
   * `npm run typecheck` in a vendored copy: tsc with checkJs against the types "xmpp-s2s" publishes
   * (dist/core/index.d.ts), with this repository's TypeScript and @types/node standing in for the
   * package's devDependencies. Resolves with tsc's output; rejects when tsc reports errors.
   */
  async typecheck(relative: string): Promise<string> {
    const types = join(this.dir, "node_modules/@types");
    if (!existsSync(types)) symlinkSync(join(REPO, "node_modules/@types"), types, "dir");
    const tsc = join(REPO, "node_modules/typescript/bin/tsc");
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [tsc, "-p", join(this.dir, relative, "tsconfig.json")], { cwd: join(this.dir, relative) });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`tsc found problems in ${relative}:\n${e.stdout || e.stderr || e.message}`);
    }
  }

  path(relative: string): string {
    return join(this.dir, relative);
  }

  write(relative: string, text: string): string {
    const file = this.path(relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  }

  /** Replace a file atomically (write a temporary file, then rename it), as deployment tools and many editors do. */
  replace(relative: string, text: string): void {
    const file = this.path(relative);
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }

  append(relative: string, text: string): void {
    appendFileSync(this.path(relative), text);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A logger whose JSON lines the test can wait on (every line ever written is replayed to late subscribers). */
export function captureLogs(level: "info" | "debug" = "info"): { logger: Logger; logs$: Observable<Record<string, unknown>> } {
  const logs = new ReplaySubject<Record<string, unknown>>();
  let partial = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) logs.next(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger(level, sink), logs$: logs.asObservable() };
}

/** What `xmpp-s2s start --config FILE` does: load and validate the TOML file, create the server, start it. */
export async function startFromToml(file: string, logger: Logger): Promise<S2sServer> {
  const server = createServer(loadConfigFile(file), { logger });
  await server.start();
  return server;
}

export interface NodeToml {
  readonly hosts: readonly string[];
  readonly ip: string;
  readonly s2sPort: number;
  /** Opens a [[listen.service]] for XEP-0114 components (password "pw"). */
  readonly servicePort?: number;
  /** `s2s.address` entries: domain -> where it listens. */
  readonly address?: ReadonlyArray<{ readonly host: string; readonly ip: string; readonly port: number }>;
}

/** [general], [[listen.*]] and [s2s] of a test node, as an operator would write them; the test appends [plugins]. */
export function nodeToml(node: NodeToml): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    "[general]",
    `hosts = [${node.hosts.map(q).join(", ")}]`,
    "",
    "[[listen.s2s]]",
    `port = ${node.s2sPort}`,
    `ip_address = ${q(node.ip)}`,
    "",
    ...(node.servicePort === undefined ? [] : ["[[listen.service]]", `port = ${node.servicePort}`, `ip_address = ${q(node.ip)}`, `password = "pw"`, ""]),
    "[s2s]",
    `use_starttls = "false"`,
    `shared = ${q(`secret-${node.ip}`)}`,
    `address = [`,
    ...(node.address ?? []).map((a) => `  { host = ${q(a.host)}, ip_address = ${q(a.ip)}, port = ${a.port} },`),
    `]`,
    "",
  ].join("\n");
}

/** The defined condition of a stanza error (RFC 6120 §8.3.3), from an @xmpp/component (ltx) stanza. */
export function errorCondition(stanza: any): string | undefined {
  const error = stanza.getChild("error");
  return error?.children.find((c: any) => typeof c !== "string" && c.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name !== "text")?.name;
}
