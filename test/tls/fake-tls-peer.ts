import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";

/**
 * A minimal S2S receiving server that offers STARTTLS and then presents whatever certificate the
 * test gives it (for another domain, say), which our own server's config validation would refuse.
 * It stops after the handshake: that is all a required_trusted initiator must ever see.
 */
export async function fakeTlsPeer(host: string, certfile: string): Promise<{ server: Server; port: number; handshakes: () => number; close: () => void }> {
  const pem = readFileSync(certfile, "utf8");
  let handshakes = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    let buffer = "";
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      if (/<stream:stream[^>]*>/.test(buffer) && !buffer.includes("<starttls")) {
        const to = /to='([^']+)'/.exec(buffer)?.[1] ?? "";
        socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='fake1' from='${to}' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`);
        buffer = buffer.replace(/<stream:stream[^>]*>/, "");
      }
      if (buffer.includes("<starttls")) {
        socket.off("data", onData);
        socket.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
        const tls = new TLSSocket(socket, { isServer: true, cert: pem, key: pem });
        tls.on("error", () => {});
        tls.once("secure", () => handshakes++);
      }
    };
    socket.on("data", onData);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as { port: number }).port;
  return { server, port, handshakes: () => handshakes, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}
