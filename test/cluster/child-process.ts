import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DEADLINE_MS } from "../helpers/wait.js";
import type { NodeSpec } from "./cluster-nodes.js";

const SCRIPT = fileURLToPath(new URL("./child-node.ts", import.meta.url));

export interface ChildNode {
  readonly pid: number;
  readonly s2sPort: number;
  readonly servicePort: number;
  /** SIGKILL (no goodbye to Redis: the leases must expire), resolves when the process is gone. */
  kill(): Promise<void>;
}

/** Starts test/cluster/child-node.ts in its own process and waits for its ready line. */
export async function spawnChildNode(spec: NodeSpec & { open?: string }): Promise<ChildNode> {
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", SCRIPT, JSON.stringify(spec)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const ready = await new Promise<{ s2sPort: number; servicePort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child node ${spec.name} not ready within ${DEADLINE_MS * 2} ms: ${out}${err}`)), DEADLINE_MS * 2);
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { s2sPort: number; servicePort: number });
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child node ${spec.name} exited (${code}): ${out}${err}`));
    });
  });
  return {
    pid: proc.pid!,
    s2sPort: ready.s2sPort,
    servicePort: ready.servicePort,
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once("exit", r));
      process.kill(proc.pid!, "SIGKILL");
      await gone;
    },
  };
}
