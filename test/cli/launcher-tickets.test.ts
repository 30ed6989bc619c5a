/**
 * The installed command (`bin/xmpp-s2s`, a shell launcher) runs the server under
 * plugins/node_tls/openssl-no-tickets.cnf: after a TLS 1.3 STARTTLS handshake with a server it
 * started, the client receives no NewSessionTicket (Node's `session` event fires once per ticket).
 * Started as plain `node dist/bin/xmpp-s2s.js`, the same server sends its two small stateful
 * tickets, which shows that the check can fail.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/build.js";
import { BIN, killChildren, RunningServer } from "../helpers/cli.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir } from "../helpers/certs.js";
import { freePort } from "../helpers/ports.js";
import { startTls } from "../tls/starttls-client.js";
import { eventually } from "../helpers/wait.js";

const LAUNCHER = join(ROOT, "bin/xmpp-s2s");
/** Its own loopback address: both servers reuse one port, which stays free between them only if no other test picks from this address. */
const IP = "127.0.0.191";

describe("bin/xmpp-s2s launcher: no TLS session tickets", () => {
  let dir: string;
  let config: string;
  let port: number;

  before(async () => {
    dir = makeCertDir();
    const ca = makeCa(dir, "Launcher CA");
    const leaf = makeLeaf(ca, { domains: ["a.example"] });
    port = await freePort(IP);
    config = join(dir, "s2s.toml");
    writeFileSync(config, [
      `[general]`, `hosts = ["a.example"]`, ``,
      `[[listen.s2s]]`, `port = ${port}`, `ip_address = "${IP}"`, ``,
      `[s2s]`, `use_starttls = "optional"`, `certfile = ${JSON.stringify(leaf.certfile)}`, ``,
    ].join("\n"));
  });
  after(() => {
    killChildren();
    removeCertDir(dir);
  });

  async function ticketsFrom(command: string, args: string[]): Promise<number> {
    const server = new RunningServer(spawn(command, [...args, "start", "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }));
    try {
      await server.waitForLog("started");
      const { tls, peer } = await startTls(IP, port, { from: "b.example", to: "a.example" });
      assert.equal(tls.getProtocol(), "TLSv1.3");
      let sessions = 0;
      tls.on("session", () => sessions++);
      // The server answers our new stream header only after its post-handshake messages, so
      // once the header is in, every ticket it meant to send has arrived.
      tls.write("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='b.example' to='a.example' version='1.0'>");
      let received = "";
      tls.on("data", (d: Buffer | string) => (received += d.toString()));
      await eventually(() => received.includes("<stream:stream") || received.includes("<stream:features"));
      tls.destroy();
      peer.socket.destroy();
      return sessions;
    } finally {
      server.child.kill("SIGTERM");
      await server.exit();
    }
  }

  it("the installed command: no ticket after the handshake", async () => {
    assert.equal(await ticketsFrom(LAUNCHER, []), 0);
  });

  it("plain node without the OpenSSL configuration: tickets arrive (the check can fail)", async () => {
    assert.ok((await ticketsFrom(process.execPath, [BIN])) > 0);
  });
});
