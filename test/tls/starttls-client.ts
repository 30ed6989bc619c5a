import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { ScriptedPeer } from "../helpers/s2s-peer.js";

/**
 * A raw S2S initiator that negotiates STARTTLS by hand: lets tests look at the certificate a
 * listener picks for an SNI name, or present (or not) a client certificate.
 */
export async function startTls(host: string, port: number, options: { from: string; to: string; servername?: string; cert?: string; key?: string }): Promise<{ peer: ScriptedPeer; tls: TLSSocket; data: () => string }> {
  const peer = await ScriptedPeer.connect(host, port);
  await peer.open(options.from, options.to);
  peer.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  await peer.waitFor(/<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
  peer.socket.removeAllListeners("data");
  const tls = tlsConnect({ socket: peer.socket, servername: options.servername ?? options.to, rejectUnauthorized: false, cert: options.cert, key: options.key });
  let received = "";
  tls.setEncoding("utf8");
  tls.on("data", (chunk: string) => (received += chunk));
  tls.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    tls.once("secureConnect", () => resolve());
    tls.once("error", reject);
  });
  return { peer, tls, data: () => received };
}
