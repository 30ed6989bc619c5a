/** Runs the `xmpp-s2s` command from source (tsx) in a child process, bounded by the test deadline. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/build.js";
import { DEADLINE_MS } from "../helpers/wait.js";

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function xmppS2s(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bin/xmpp-s2s.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`xmpp-s2s ${args.join(" ")} did not exit within ${DEADLINE_MS} ms\n${stdout}\n${stderr}`));
    }, DEADLINE_MS * 3);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      // 'exit' can come before the pipes are drained: wait for them to close.
      let open = 2;
      const done = () => --open === 0 && resolve({ code, stdout, stderr });
      if (child.stdout.closed) done();
      else child.stdout.once("close", done);
      if (child.stderr.closed) done();
      else child.stderr.once("close", done);
    });
  });
}
