/**
 * Which config file a running `xmpp-s2s start` process reads on SIGHUP, so that `xmpp-s2s reload
 * --pid P --config FILE` can refuse a FILE that is not the one the server will re-read (it
 * used to validate FILE while the server quietly re-read its own file). The server's own status
 * file names it (bin/reload-status.ts); without one, the process itself tells (Linux /proc: its
 * command line and working folder). Paths are compared after resolving symlinks.
 */
import { readFileSync, readlinkSync, realpathSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

export type ProcessConfig = { readonly file: string } | { readonly unknown: string };

/** The absolute, symlink-free path of the config file process `pid` was started with. */
export function configFileOfProcess(pid: number): ProcessConfig {
  let argv: string[];
  let cwd: string;
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "");
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch (err) {
    return { unknown: `cannot read the command line of process ${pid} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  const start = argv.indexOf("start");
  if (start < 0 || !argv.slice(0, start).some((a) => /xmpp-s2s(\.[cm]?[jt]s)?$/.test(a))) {
    return { unknown: `process ${pid} is not an "xmpp-s2s start" process (${argv.join(" ")})` };
  }
  let config: string | undefined;
  try {
    const parsed = parseArgs({ args: argv.slice(start + 1), options: { config: { type: "string", short: "c" }, "log-level": { type: "string" } }, strict: false });
    config = typeof parsed.values.config === "string" ? parsed.values.config : undefined;
  } catch {
    config = undefined; // a command line parseArgs refuses has no --config we could trust
  }
  if (config === undefined) return { unknown: `process ${pid} has no --config in its command line` };
  return { file: realPath(resolve(cwd, config)) };
}

/** The real path (symlinks resolved) when the file exists, else the absolute path as given. */
export function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path); // absent or unreadable: compare the path as given (see above)
  }
}

/**
 * Undefined when reloading process `pid` would read `file`; otherwise the reason to refuse, as a
 * problem line naming both files. `serverFile` is the path the server itself recorded (its status
 * file, bin/reload-status.ts), preferred over reading /proc.
 */
export function reloadTargetProblem(pid: number, file: string, serverFile?: string): string | undefined {
  const running: ProcessConfig = serverFile !== undefined ? { file: realPath(serverFile) } : configFileOfProcess(pid);
  if ("unknown" in running) {
    return `--config: cannot tell which file process ${pid} re-reads, so ${JSON.stringify(file)} cannot be checked against it (${running.unknown}); run reload without --config (the server validates its own file and logs reload_failed when it is invalid)`;
  }
  const wanted = realPath(file);
  if (wanted !== running.file) {
    return `--config: not the file the server re-reads (got ${JSON.stringify(wanted)}, expected ${JSON.stringify(running.file)}: process ${pid} was started with it, and SIGHUP makes it read that file again; edit that file, or restart the server with --config ${JSON.stringify(file)})`;
  }
  return undefined;
}
