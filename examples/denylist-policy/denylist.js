// @ts-check
/** @import { Policy, PolicyRequest, PolicyVerdict, PluginContext } from "xmpp-s2s" */
import { watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { normaliseDomain } from "xmpp-s2s";

/** @typedef {PluginContext<unknown>["logger"]} Logger */
/** @typedef {{ readonly line: number, readonly text: string, readonly reason: string }} ListProblem */

/** One save in an editor is often several events (truncate, write, rename): wait for them to settle. */
export const DEBOUNCE_MS = 100;

/**
 * The list format: one domain per line; `#` starts a comment (whole line or after the domain);
 * blank lines are ignored. Domains are matched exactly, case-insensitively, after IDNA
 * (`bücher.example` and `xn--bcher-kva.example` are the same entry), like `s2s.host_policy`.
 *
 * @param {string} text
 * @returns {{ domains: Set<string>, problems: ListProblem[] }}
 */
export function parseDenylist(text) {
  /** @type {Set<string>} */
  const domains = new Set();
  /** @type {ListProblem[]} */
  const problems = [];
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, i) => {
    const entry = raw.replace(/#.*/, "").trim();
    if (entry === "") return;
    // The policy chain hands policies the remote domain normalised the same way (lower-case, IDNA:
    // `bücher.example` is `xn--bcher-kva.example`), so a Set lookup is enough at decision time.
    const domain = entry.includes("*") ? undefined : normaliseDomain(entry);
    if (domain !== undefined) domains.add(domain);
    else problems.push({ line: i + 1, text: entry, reason: entry.includes("*") ? "wildcards are not supported, domains match exactly" : "not a domain name" });
  });
  return { domains, problems };
}

/**
 * The Policy: "deny" for a listed remote domain, no opinion (`undefined`) for anything else, so
 * later policies and then `s2s.default_policy` decide (a denylist has no reason to allow).
 * Deciding is a Set lookup; the file is read at start-up and again only when it changes.
 *
 * @implements {Policy}
 */
export class DenylistPolicy {
  name = "denylist";
  /** @type {string} */ #file;
  /** @type {Logger} */ #logger;
  /** @type {ReadonlySet<string>} */ #denied;
  /** @type {import("node:fs").FSWatcher | undefined} */ #watcher;
  /** @type {NodeJS.Timeout | undefined} */ #timer;
  #reads = 0;
  #closed = false;

  /**
   * @param {string} file absolute path of the list
   * @param {ReadonlySet<string>} domains the list as read and validated at start-up
   * @param {Logger} logger
   */
  constructor(file, domains, logger) {
    this.#file = file;
    this.#denied = domains;
    this.#logger = logger;
  }

  /**
   * @param {PolicyRequest} request
   * @returns {PolicyVerdict | undefined}
   */
  decide(request) {
    // The chain hands us the remote domain already lower-cased and IDNA-normalised.
    return this.#denied.has(request.remoteDomain) ? "deny" : undefined;
  }

  /** How many domains are denied now. */
  get size() {
    return this.#denied.size;
  }

  /** Re-read the file whenever it changes, until `close()`. */
  watch(debounceMs = DEBOUNCE_MS) {
    if (this.#watcher || this.#closed) return;
    const name = basename(this.#file);
    // Watch the folder, not the file: editors and `mv new.txt denied.txt` replace the file with a
    // new inode, and a watch on the old inode goes quiet after the first save. `persistent: false`:
    // a watcher alone never keeps the process alive.
    this.#watcher = watch(dirname(this.#file), { persistent: false }, (_event, filename) => {
      // Some platforms do not say which file changed: re-read then, it is cheap.
      if (filename && filename.toString() !== name) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.reload(), debounceMs);
      this.#timer.unref();
    });
    this.#watcher.on("error", (err) => {
      // The folder went away or the watch limit was hit: the last list stays in force.
      this.#logger.warn({ what: "denylist_watch_failed", file: this.#file, reason: err.message }, "no longer watching the denylist: changes need a reload");
      this.#watcher = undefined;
    });
    this.#logger.debug({ what: "denylist_watching", file: this.#file });
  }

  /**
   * Read the file again. A file that cannot be read or has a bad line changes nothing: the last
   * good list stays (a half-written list must not silently let denied domains in).
   *
   * @returns {Promise<void>}
   */
  async reload() {
    const read = ++this.#reads;
    /** @type {string} */
    let text;
    try {
      text = await readFile(this.#file, "utf8");
    } catch (err) {
      if (read !== this.#reads || this.#closed) return;
      // The operator's file, not our bug: warn.
      this.#logger.warn({ what: "denylist_reload_failed", file: this.#file, reason: /** @type {Error} */ (err).message, kept: this.#denied.size }, "cannot read the denylist: keeping the last good list");
      return;
    }
    // A newer read started while this one was waiting, or a reload replaced this policy.
    if (read !== this.#reads || this.#closed) return;
    const { domains, problems } = parseDenylist(text);
    if (problems.length > 0) {
      const lines = problems.map((p) => `line ${p.line}: ${p.reason} (got ${JSON.stringify(p.text)})`);
      this.#logger.warn({ what: "denylist_reload_failed", file: this.#file, problems: lines, kept: this.#denied.size }, "bad lines in the denylist: keeping the last good list");
      return;
    }
    const added = [...domains].filter((d) => !this.#denied.has(d));
    const removed = [...this.#denied].filter((d) => !domains.has(d));
    this.#denied = domains;
    if (added.length === 0 && removed.length === 0) {
      this.#logger.debug({ what: "denylist_unchanged", file: this.#file, domains: domains.size });
      return;
    }
    // Decisions change for new sessions at once; established ones are judged again on a config reload.
    this.#logger.info({ what: "denylist_loaded", file: this.#file, domains: domains.size, added: added.slice(0, 50), removed: removed.slice(0, 50) });
  }

  /** Stop watching. The core calls this when a config reload replaces the policy, and at shutdown. */
  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
