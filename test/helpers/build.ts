import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * Make sure dist/ holds the current sources. `npm test` builds once before any test runs and sets
 * XMPP_S2S_BUILT=1, so test files running in parallel never rewrite dist/ under each other; a test
 * file run on its own builds first.
 */
export function ensureBuilt(): void {
  if (process.env.XMPP_S2S_BUILT === "1") return;
  const build = spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}
