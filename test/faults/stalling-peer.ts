import { createServer, type Server, type Socket } from "node:net";
import { listenOnFreePort } from "../helpers/ports.js";

/** Where a stalling peer stops answering: after each step of the outbound negotiation. */
export type StallPoint = "header" | "proceed" | "tls" | "db:result";

/**
 * A peer that accepts TCP and then stalls at one point of the S2S negotiation, keeping the
 * connection open: after its stream header (no features), after `<proceed/>` (no TLS at all),
 * inside the TLS handshake (the first bytes of a ServerHello record, then nothing), or after the
 * initiator's `db:result` (no answer). `accepts` records when each connection came, so a test can
 * check that attempts follow the backoff.
 */
export class StallingPeer {
  readonly accepts: number[] = [];
  readonly #sockets = new Set<Socket>();

  private constructor(readonly server: Server, readonly host: string, readonly port: number) {}

  static async start(host: string, point: StallPoint): Promise<StallingPeer> {
    const server = createServer();
    const peer = new StallingPeer(server, host, await listenOnFreePort(server, host));
    server.on("connection", (socket) => peer.#serve(socket, point));
    return peer;
  }

  #serve(socket: Socket, point: StallPoint): void {
    this.accepts.push(Date.now());
    this.#sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => this.#sockets.delete(socket));
    socket.setEncoding("latin1");
    let text = "";
    let stage = 0;
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (stage === 0 && /<stream:stream[^>]*>/.test(text)) {
        stage = 1;
        const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='stall-${this.accepts.length}' version='1.0'>`;
        if (point === "header") return void socket.write(header);
        const starttls = point === "proceed" || point === "tls" ? "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" : "";
        socket.write(`${header}<stream:features>${starttls}<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`);
      } else if (stage === 1 && /<starttls/.test(text)) {
        stage = 2;
        socket.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      } else if (stage === 2 && point === "tls") {
        stage = 3;
        // The initiator's ClientHello arrived (TLS: the client speaks first). Answer with a TLS
        // handshake record header (handshake, TLS 1.2, 0x0200 bytes) and a few of its bytes: the
        // client has started reading a ServerHello that never completes. Written right after
        // <proceed/> instead, both could reach the initiator in one read, and its XML parser would
        // take the TLS bytes for malformed XML: a parse error, not a stall.
        socket.write(Buffer.from([0x16, 0x03, 0x03, 0x02, 0x00, 0x02, 0x00, 0x01]));
      }
      // "db:result": the initiator's <db:result/> is read and never answered.
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
