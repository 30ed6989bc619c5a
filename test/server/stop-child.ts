/**
 * Child process for stop.test.ts: the README embedding pattern against a peer that never answers.
 * argv: PORT MODE ("tcp": plain TCP target, "tls": direct TLS target, "dns": no address entry, DNS
 * asked on 127.0.0.1:PORT over UDP). Sends one message, prints
 * each event type and each stanza it gets back as a JSON line, and on a line on stdin calls
 * `stop()` and prints "stopped". The process must then exit by itself, promptly.
 */
import { createServer, el } from "../../core/index.js";

const [port, mode] = process.argv.slice(2);
const server = createServer(
  {
    general: { hosts: ["a.example"] },
    s2s: {
      ...(mode === "dns" ? {} : { address: [{ host: "b.example", ip_address: "127.0.0.1", port: Number(port), tls: mode === "tls" }] }),
      // Long deadlines, so that only stop() can end the attempt within the test's patience.
      outgoing: { connection_timeout: 600_000 },
      dns: { timeout: 600, retries: 1 },
    },
    plugins: { tcp: { negotiation_timeout: 600, idle_timeout: 600 }, ...(mode === "dns" ? { dns: { servers: [`127.0.0.1:${port}`] } } : {}) },
  },
  { logLevel: "silent" },
);
const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
server.events$.subscribe((e) => print({ event: e.type }));
server.stanzas$.subscribe((s) => print({ stanza: s.name, type: s.attrs.type, id: s.attrs.id }));
await server.start();
server.send(el("message", { from: "bot@a.example", to: "echo@b.example", id: "m1" }, "jabber:server", el("body", {}, "jabber:server", "hi")));
process.stdin.once("data", () => {
  process.stdin.destroy();
  void server.stop().then(() => print({ stopped: true }));
});
