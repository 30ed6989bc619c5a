/**
 * One handshake of a node:tls client limited to TLS 1.2 (readable on the wire) against a
 * provider's acceptInbound (the STARTTLS `to` hint, default b.example), through the record relay. The client's store is empty (`ca: []`), so
 * it sends its certificate file's chain and nothing OpenSSL would find and add.
 */
import assert from "node:assert/strict";
import type { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import * as tls from "node:tls";
import type { NodeTlsProvider } from "../../plugins/node_tls/node-tls-provider.js";
import type { SecureChannel } from "../../core/tls/tls.js";
import { CLIENT_HELLO, relayedListener, type TlsRecord } from "./record-proxy.js";

/** A node:tls client limited to TLS 1.2 (so the handshake is readable) against our acceptInbound, through the relay. */
export async function tls12Inbound(server: NodeTlsProvider, client: { cert: string; servername?: string }, hint = "b.example"): Promise<{ records: TlsRecord[]; channel: SecureChannel; presented?: X509Certificate }> {
  const relay = await relayedListener();
  const { proxy } = relay;
  const pem = readFileSync(client.cert, "utf8");
  try {
    const channel = relay.inbound.then((socket) => server.acceptInbound(socket, hint));
    const socket = tls.connect({ port: proxy.port, host: "127.0.0.1", servername: client.servername ?? "b.example", maxVersion: "TLSv1.2", cert: pem, key: pem, ca: [], rejectUnauthorized: false });
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    const secured = await channel;
    // The handshake is over on both sides; the relay has seen all of it once a byte went each way.
    const echoed = new Promise((resolve) => socket.once("data", resolve));
    secured.socket.write("x");
    await echoed;
    assert.ok(proxy.records.some((r) => r.dir === "c2s" && r.handshakeType === CLIENT_HELLO));
    const presented = socket.getPeerX509Certificate();
    socket.destroy();
    secured.socket.destroy();
    return { records: [...proxy.records], channel: secured, presented };
  } finally {
    relay.close();
  }
}
