import { duplexPair } from "node:stream";
import * as tls from "node:tls";

/**
 * One TLS handshake with ourselves at start-up, over an in-memory stream pair (no socket, no
 * port, nothing on the network), in both roles: the client with the context an outbound stream
 * uses, the server through the shared `tls.Server` inbound streams use (its SNI callback
 * included).
 *
 * Why: the first handshake of a process is the most expensive thing on the first link's path.
 * Node compiles `node:tls`'s JavaScript (TLSSocket, the handshake callbacks, the certificate
 * getters) on first use, and OpenSSL runs one-off work of its own (decoders, method tables).
 * Measured on the bench's certificates: a client + server handshake pair took 14-16 ms of CPU in
 * a fresh process and ~5 ms after this warm-up, which itself costs ~17 ms of CPU at start-up and
 * no measurable RSS (docs/performance.md, "First message on a fresh link"). Every server that
 * offers or uses TLS pays that first-handshake cost on its first link; this moves it to start-up
 * for a real operator as much as for the bench.
 *
 * Nothing is trusted or kept: the client does not verify (it is ourselves), the provider's server
 * finds no pending handshake for the stream and destroys it (node-tls-provider.ts, `#newServer`),
 * the pair is dropped. Never throws, never keeps the process alive; a failure only means a colder
 * first link.
 */
export function warmHandshake(clientContext: tls.SecureContext, server: tls.Server, timeoutMs: number): Promise<"done" | "failed"> {
  // Node >= 20.17 and 22.6 (package.json asks for 20.19); without it the first link stays cold.
  if (typeof duplexPair !== "function") return Promise.resolve("failed");
  return new Promise((resolve) => {
    const [clientSide, serverSide] = duplexPair();
    let client: tls.TLSSocket | undefined;
    let finished = false;
    const finish = (outcome: "done" | "failed") => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      client?.destroy();
      clientSide.destroy();
      serverSide.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish("failed"), timeoutMs).unref();
    try {
      client = tls.connect({
        socket: clientSide,
        secureContext: clientContext,
        // An SNI name, as outbound streams send (RFC 6066 §3); the server answers with its default certificate.
        servername: "warm-up.invalid",
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      let secure = false;
      client.on("error", () => finish("failed"));
      client.once("secureConnect", () => {
        secure = true;
        client?.getPeerCertificate(false);
      });
      client.once("close", () => finish("failed"));
      // TLS 1.3: the client is done before the server has read its certificate and Finished. The
      // provider's server destroys its side once it has (no pending handshake has that stream);
      // an in-memory pair does not carry that to the client's side.
      serverSide.once("close", () => finish(secure ? "done" : "failed"));
      server.emit("connection", serverSide);
    } catch {
      finish("failed");
    }
  });
}
