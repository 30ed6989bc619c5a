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
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

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
    return this.#run(relative, "tsc found problems", [join(REPO, "node_modules/typescript/bin/tsc"), "-p", join(this.dir, relative, "tsconfig.json")]);
  }

  /** `npm test` in a vendored copy (its own tests, `node --test`). Resolves with the output; rejects when a test fails. */
  test(relative: string): Promise<string> {
    return this.#run(relative, "its own tests failed", ["--test"]);
  }

  async #run(relative: string, failure: string, args: string[]): Promise<string> {
    try {
      // Without NODE_TEST_CONTEXT (set by the runner around this file), a nested `node --test` reports to us as its own runner.
      const { NODE_TEST_CONTEXT: _, ...env } = process.env;
      const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: join(this.dir, relative), env, timeout: 300_000 });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${failure} in ${relative}:\n${e.stdout || e.stderr || e.message}`);
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
