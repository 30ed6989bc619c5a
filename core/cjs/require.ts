/**
 * The CommonJS packages the core runs on (reflect-metadata, tsyringe, rxjs, pino, saxes) are loaded
 * with `require`, never with `import`: on Node 20 the first `import` of any CommonJS module from an
 * ES module costs ~6 MiB of resident memory for the whole life of the process (the ESM loader's
 * CommonJS path: measured with bench/idle-rss.ts, docs/performance.md "Memory"); `require` does
 * not. Modules in core/cjs/ re-export what the code uses, with the packages' own types; type-only
 * imports from the packages themselves cost nothing and stay as they are. Both ways share Node's one
 * module cache, so an embedder or plugin that `import`s the same package gets the same instance
 * (one tsyringe container, one rxjs).
 */
import { createRequire } from "node:module";

export const requireCjs = createRequire(import.meta.url);
