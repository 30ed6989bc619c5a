import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { ensureBuilt } from "../helpers/build.js";
import { createConnection } from "node:net";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { el } from "../../core/xml/element.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { waitFor, DEADLINE_MS } from "../helpers/wait.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

/**
 * `npm start` (= `node dist/bin/xmpp-s2s.js start --config config/s2s.toml` after the build) on
 * the embedded default config serves echo@localhost to a peer that connects. The peer's domain
 * is an IP literal (RFC 7622 §3.2 allows one), so the default server can dial it back for dialback
 * without any DNS or config change.
 */
describe("npm start on the default config", () => {
  let child: ChildProcess;
  let peer: TestNode;
  let output = "";

  before(async () => {
    ensureBuilt();
    assert.equal(await portFree("127.0.0.1", 5269), true, "127.0.0.1:5269 must be free for the default config");
    child = spawn(process.execPath, ["dist/bin/xmpp-s2s.js", "start", "--config", "config/s2s.toml"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const start = Date.now();
    while (!/"what":"started"/.test(output)) {
      if (Date.now() - start > DEADLINE_MS || child.exitCode !== null) throw new Error(`server did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    peer = await startNode({ hosts: ["127.0.0.2"], ip: "127.0.0.2", listener: {}, s2s: { address: [{ host: "localhost", ip_address: "127.0.0.1", port: 5269 }] } }, { s2sPort: 5269, servicePort: 0 });
  });

  after(async () => {
    await peer?.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  });

  it("answers echo@localhost over S2S with dialback", async () => {
    const echo = waitFor(peer.server.stanzas$, (s) => s.attr("id") === "start1");
    peer.server.send(el("message", { from: "tester@127.0.0.2", to: "echo@localhost", id: "start1", type: "chat" }, "jabber:server", el("body", {}, "jabber:server", "hello default config")));
    const reply = await echo;
    assert.equal(reply.attr("from"), "echo@localhost");
    assert.equal(reply.getChildText("body"), "hello default config");
    assert.match(output, /"what":"authenticated"/);
  });
});
