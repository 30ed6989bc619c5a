/**
 * How `xmpp-s2s reload --pid PID` learns whether the server took the new configuration. A signal
 * carries no answer, so the server started by `xmpp-s2s start` keeps a small JSON status file,
 * `<dir>/xmpp-s2s-<pid>.json` (dir: $XMPP_S2S_RUNTIME_DIR, else the OS temp folder): written once
 * the server is up, rewritten after every reload with that reload's outcome and a counter, removed
 * at shutdown. The CLI reads the counter, sends SIGHUP, and waits for the counter to move.
 *
 * Written atomically (a new file, then rename): a reader never sees half a file, and a rename
 * replaces a planted symlink instead of writing through it.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type ReloadOutcome =
  | {
      readonly ok: true;
      readonly at: string;
      readonly policies: number;
      readonly certificatesReloaded: boolean;
      readonly closedInbound: number;
      /** Changed keys that take effect only after a restart. */
      readonly needsRestart: readonly string[];
    }
  | { readonly ok: false; readonly at: string; readonly problems: readonly string[] };

export interface ServerStatus {
  readonly pid: number;
  /** Differs for every run of a server, so a reused PID is not mistaken for the same server. */
  readonly boot: string;
  /** The config file this server re-reads on SIGHUP (absolute). */
  readonly file: string;
  readonly startedAt: string;
  /** Reloads handled so far. */
  readonly reloads: number;
  readonly lastReload?: ReloadOutcome;
}

export function runtimeDir(): string {
  return process.env.XMPP_S2S_RUNTIME_DIR || tmpdir();
}

export function statusPath(pid: number): string {
  return join(runtimeDir(), `xmpp-s2s-${pid}.json`);
}

/** The status of process `pid`, or undefined when it has none (not an xmpp-s2s server, or not started yet). */
export function readStatus(pid: number): ServerStatus | undefined {
  let status: ServerStatus;
  try {
    status = JSON.parse(readFileSync(statusPath(pid), "utf8")) as ServerStatus;
  } catch {
    // No file (not an xmpp-s2s server, or not started yet), or one being rewritten: no status yet.
    return undefined;
  }
  return status.pid === pid && typeof status.reloads === "number" ? status : undefined;
}

/** The server's side: one writer per process. */
export class StatusFile {
  readonly path: string;
  #status: ServerStatus;

  constructor(file: string) {
    this.path = statusPath(process.pid);
    this.#status = { pid: process.pid, boot: randomUUID(), file, startedAt: new Date().toISOString(), reloads: 0 };
  }

  /** Throws when the folder is not writable (the caller logs it: reload still works, unconfirmed). */
  write(): void {
    const temp = `${this.path}.${this.#status.boot}.${this.#status.reloads}.tmp`;
    writeFileSync(temp, `${JSON.stringify(this.#status)}\n`, { flag: "wx", mode: 0o644 });
    try {
      renameSync(temp, this.path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }

  recordReload(outcome: ReloadOutcome): void {
    this.#status = { ...this.#status, reloads: this.#status.reloads + 1, lastReload: outcome };
    this.write();
  }

  remove(): void {
    // Only our own file: a later process with the same PID writes its own boot id.
    if (readStatus(process.pid)?.boot === this.#status.boot) rmSync(this.path, { force: true });
  }
}
