// @ts-check
/** @import { OptionsResult } from "xmpp-s2s" */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { didYouMean, formatValue } from "xmpp-s2s";
import { parseDenylist } from "./denylist.js";

/**
 * @typedef {object} DenylistOptions
 * @property {string} file absolute path of the list
 * @property {boolean} watch pick up changes to the file
 * @property {ReadonlySet<string>} domains the list as read at start-up
 */

const KNOWN = ["file", "watch"];

/**
 * `[plugins.denylist]` without `module` and `enabled`: `file` (required, relative to the config
 * file's folder) and `watch` (default true). The list itself is read here, so a missing file or a
 * bad line stops the server at start-up and shows in `xmpp-s2s check-config`. Problems are
 * relative keys (`file: ...`); the loader prefixes `plugins.<name>.`.
 *
 * @param {Readonly<Record<string, unknown>>} raw
 * @param {string} baseDir the config file's folder (`config.baseDir`)
 * @returns {OptionsResult<DenylistOptions>}
 */
export function parseDenylistOptions(raw, baseDir) {
  /** @type {string[]} */
  const problems = [];
  for (const key of Object.keys(raw)) {
    if (KNOWN.includes(key)) continue;
    const hint = didYouMean(key, KNOWN);
    problems.push(`${key}: unknown option (got ${formatValue(raw[key])}, expected ${KNOWN.join(" or ")}${hint ? `; did you mean "${hint}"?` : ""})`);
  }
  const watch = raw.watch ?? true;
  if (typeof watch !== "boolean") problems.push(`watch: expected a boolean (got ${formatValue(watch)}, expected true or false)`);
  if (typeof raw.file !== "string" || raw.file === "") {
    problems.push(`file: expected a path (got ${formatValue(raw.file)}, expected a string)`);
    return { problems };
  }
  const file = resolve(baseDir, raw.file);
  /** @type {string} */
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    problems.push(`file: cannot read the list (got ${formatValue(raw.file)}, expected a readable file: ${/** @type {Error} */ (err).message})`);
    return { problems };
  }
  const list = parseDenylist(text);
  for (const p of list.problems) problems.push(`file: ${basename(file)} line ${p.line}: ${p.reason} (got ${formatValue(p.text)}, expected one domain per line, # for comments)`);
  if (problems.length > 0 || typeof watch !== "boolean") return { problems };
  return { options: { file, watch, domains: list.domains } };
}
