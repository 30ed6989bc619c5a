import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { S2sServer } from "../../core/server/server.js";
import { MAX_REMOTE_DOMAINS_PER_STREAM } from "../../core/session/inbound-stream.js";
import { S2sLoadGen } from "../../bench/lib/s2s-loadgen.js";
import { freePort } from "../helpers/ports.js";
import { eventually } from "../helpers/wait.js";
import { connectFrom, startLogged, type Conn } from "./helpers.js";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='b.example' version='1.0'>";

// Issue 11: the domains authenticated on one inbound stream (XEP-0220 §2.1.3 piggybacking) form a
// map keyed by names the peer chooses: bounded. The peer here really is authoritative for every
// domain it claims (the load generator answers db:verify), so each one verifies.
describe("remote domains per inbound stream", () => {
  const ip = "127.0.0.84";
  let server: S2sServer | undefined;
  let gen: S2sLoadGen | undefined;
  let conn: Conn | undefined;
  after(async () => {
    conn?.socket.destroy();
    await server?.stop();
    await gen?.close();
  });

  it(`after ${MAX_REMOTE_DOMAINS_PER_STREAM} authenticated domains, one more closes the stream with policy-violation`, async () => {
    const count = MAX_REMOTE_DOMAINS_PER_STREAM + 1;
    const domains = Array.from({ length: count }, (_, i) => `p${i}.piggy.test`);
    const genPort = await freePort("127.0.0.85");
    gen = await S2sLoadGen.start({ domain: domains[0]!, secret: "piggy", listenHost: "127.0.0.85", listenPort: genPort, certPem: "", keyPem: "", starttls: false });
    const port = await freePort(ip);
    ({ server } = await startLogged({
      general: { hosts: ["b.example"] },
      listen: { s2s: [{ port, ip_address: ip }] },
      s2s: { shared: "b-secret", address: domains.map((d) => ({ host: d, ip_address: "127.0.0.85", port: genPort })) },
      plugins: { dialback: { max_pending_per_stream: 200, max_pending: 200 } },
    }));
    conn = await connectFrom("127.0.0.86", ip, port);
    conn.socket.write(HEADER);
    await eventually(() => conn!.text.includes("</stream:features>"), undefined, "features");
    const streamId = /<stream:stream\b[^>]*?\sid='([^']+)'/.exec(conn.text)?.[1];
    assert.ok(streamId, "stream id");
    const result = (d: string) => `<db:result from='${d}' to='b.example'>${gen!.key("b.example", d, streamId)}</db:result>`;
    // In waves within the per-stream cap; every one verifies.
    for (let i = 0; i < MAX_REMOTE_DOMAINS_PER_STREAM; i += 200) {
      conn.socket.write(domains.slice(i, Math.min(i + 200, MAX_REMOTE_DOMAINS_PER_STREAM)).map(result).join(""));
      const want = Math.min(i + 200, MAX_REMOTE_DOMAINS_PER_STREAM);
      await eventually(() => (conn!.text.match(/type='valid'/g) ?? []).length === want, 60_000, `${want} valid`);
    }
    conn.socket.write(result(domains[MAX_REMOTE_DOMAINS_PER_STREAM]!));
    await eventually(() => conn!.text.includes("</stream:stream>"), undefined, "the stream closed");
    assert.match(conn.text, /<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text [^>]*>more than 1000 remote domains on one stream<\/text>/);
    assert.equal((conn.text.match(/type='valid'/g) ?? []).length, MAX_REMOTE_DOMAINS_PER_STREAM);
  });
});
