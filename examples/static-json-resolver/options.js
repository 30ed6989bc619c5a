// @ts-check
/** @import { OptionsResult } from "xmpp-s2s" */
/** @import { JsonTarget } from "./static-json-resolver.js" */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { didYouMean, formatValue, normaliseDomain } from "xmpp-s2s";

/**
 * @typedef {object} StaticJsonOptions
 * @property {string} file absolute path of the JSON file
 * @property {ReadonlyMap<string, readonly JsonTarget[]>} table domain -> targets, in file order
 */

const KNOWN = ["file"];
const TARGET_KEYS = ["host", "port", "tls"];

/**
 * `[plugins.<name>] file = "hosts.json"` (required, relative to the config file's folder). The
 * file is read and checked here, so every mistake in it stops the server at start-up with its
 * place in the file: `file: "b.example"[0].port in hosts.json: expected a port number (...)`.
 *
 * @param {Readonly<Record<string, unknown>>} raw
 * @param {string} baseDir the config file's folder (`config.baseDir`)
 * @returns {OptionsResult<StaticJsonOptions>}
 */
export function parseStaticJsonOptions(raw, baseDir) {
  /** @type {string[]} */
  const problems = [];
  for (const key of Object.keys(raw)) {
    if (KNOWN.includes(key)) continue;
    const hint = didYouMean(key, KNOWN);
    problems.push(`${key}: unknown option (got ${formatValue(raw[key])}, expected ${KNOWN.join(" or ")}${hint ? `; did you mean "${hint}"?` : ""})`);
  }
  if (typeof raw.file !== "string" || raw.file === "") {
    problems.push(`file: expected a path (got ${formatValue(raw.file)}, expected a string)`);
    return { problems };
  }
  const file = resolve(baseDir, raw.file);
  /** @type {unknown} */
  let json;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const what = /** @type {NodeJS.ErrnoException} */ (err).code ? "cannot read the file" : "not valid JSON";
    problems.push(`file: ${what} (got ${formatValue(raw.file)}, expected a readable JSON file: ${/** @type {Error} */ (err).message})`);
    return { problems };
  }
  const name = basename(file);
  // Objects and lists from the JSON file are shown as JSON (formatValue writes them as TOML, the config file's syntax).
  const shown = (/** @type {unknown} */ got) => (typeof got === "object" && got !== null ? JSON.stringify(got) : formatValue(got));
  /** @param {string} where @param {string} what @param {unknown} got @param {string} expected */
  const bad = (where, what, got, expected) => problems.push(`file: ${where} in ${name}: ${what} (got ${shown(got)}, expected ${expected})`);

  /** @type {Map<string, JsonTarget[]>} */
  const table = new Map();
  if (!isObject(json)) {
    bad("the top level", "expected an object of domains", json, `{ "b.example": [{ "host": "127.0.0.2", "port": 5269 }] }`);
    return { problems };
  }
  for (const [key, list] of Object.entries(json)) {
    // Keys match the way the core presents domains: lower-cased, IDNA (bücher.example = xn--bcher-kva.example).
    const domain = normaliseDomain(key);
    if (domain === undefined) bad(formatValue(key), "not a domain name", key, 'a domain such as "b.example"');
    else if (table.has(domain)) bad(formatValue(key), "the same domain twice", key, "each domain once (after lower-casing and IDNA)");
    if (!Array.isArray(list)) {
      bad(formatValue(key), "expected a list of targets", list, `[{ "host": "127.0.0.2", "port": 5269 }]`);
      continue;
    }
    /** @type {JsonTarget[]} */
    const targets = [];
    list.forEach((item, i) => {
      const at = `${formatValue(key)}[${i}]`;
      if (!isObject(item)) {
        bad(at, "expected a target", item, `{ "host": "127.0.0.2", "port": 5269 }`);
        return;
      }
      for (const k of Object.keys(item)) {
        if (TARGET_KEYS.includes(k)) continue;
        const hint = didYouMean(k, TARGET_KEYS);
        bad(`${at}.${k}`, "unknown key", item[k], `${TARGET_KEYS.join(", ")}${hint ? `; did you mean "${hint}"?` : ""}`);
      }
      const { host, port, tls } = item;
      if (typeof host !== "string" || host === "") bad(`${at}.host`, "expected an IP address or host name", host, 'a string such as "127.0.0.2"');
      if (port !== undefined && !(typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535)) bad(`${at}.port`, "expected a port number", port, "an integer 1-65535");
      if (tls !== undefined && typeof tls !== "boolean") bad(`${at}.tls`, "expected a boolean", tls, "true (XEP-0368 direct TLS) or false");
      if (typeof host === "string" && host !== "") targets.push({ host, port: typeof port === "number" ? port : undefined, tls: tls === true });
    });
    if (domain && !table.has(domain)) table.set(domain, targets);
  }
  return problems.length > 0 ? { problems } : { options: { file, table } };
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
