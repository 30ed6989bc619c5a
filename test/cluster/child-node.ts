/**
 * A cluster node in its own process, so a test can SIGKILL it (docs/cluster.md). Argument: a JSON
 * NodeSpec plus `open`: a remote domain to send one message to from a.example at start, so that
 * this node takes that pair's lease. Prints one JSON line `{"ready":true,...}` when it holds it.
 */
import { el } from "../../core/xml/element.js";
import { waitFor } from "../helpers/wait.js";
import { startClusterNode, type NodeSpec } from "./cluster-nodes.js";

const spec = JSON.parse(process.argv[2] ?? "{}") as NodeSpec & { open?: string };
const node = await startClusterNode(spec);
if (spec.open) {
  const remote = spec.open;
  const taken = waitFor(node.server.events$, (e) => e.type === "cluster_lease_taken" && e.remote === remote);
  const up = waitFor(node.server.events$, (e) => e.type === "established" && e.remote === remote);
  node.server.send(el("message", { from: "svc@a.example", to: `u@${remote}`, id: "child-open" }, undefined, el("body", {}, undefined, "open")));
  await Promise.all([taken, up]);
}
process.stdout.write(`${JSON.stringify({ ready: true, s2sPort: node.s2sPort, servicePort: node.servicePort, pid: process.pid })}\n`);
process.on("SIGTERM", () => void node.server.stop().then(() => process.exit(0)));
