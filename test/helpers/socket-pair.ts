import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";

/**
 * Two ends of one real loopback TCP connection: `server` for the object under test, `peer` for
 * the test to script. `allowHalfOpen` keeps the peer's side open after the server's FIN, so that a
 * test can watch what happens when a peer never closes (the close grace).
 */
export async function socketPair(options: { allowHalfOpen?: boolean } = {}): Promise<{ server: Socket; peer: Socket; text(): string; close(): void }> {
  const listener = createServer({ allowHalfOpen: true });
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  const { port } = listener.address() as { port: number };
  const accepted = once(listener, "connection") as Promise<[Socket]>;
  const peer = connect({ port, host: "127.0.0.1", allowHalfOpen: options.allowHalfOpen ?? false });
  const [[server]] = await Promise.all([accepted, once(peer, "connect")]);
  listener.close();
  let received = "";
  peer.setEncoding("utf8");
  peer.on("data", (chunk: string) => (received += chunk));
  peer.on("error", () => {});
  server.on("error", () => {});
  return {
    server,
    peer,
    text: () => received,
    close: () => {
      peer.destroy();
      server.destroy();
    },
  };
}
