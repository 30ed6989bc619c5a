import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A raw TCP relay on loopback that reads the TLS record headers going through it (RFC 8446 §5.1,
 * RFC 5246 §6.2): content type, length and, for plaintext handshake records, the handshake
 * message type. It never decrypts: under TLS 1.3 everything after the ServerHello is an
 * application_data (23) record, which the tests place by the order of the two directions.
 *
 * Bytes before the first TLS record of a direction (the STARTTLS exchange) are skipped: a
 * direction starts at its first byte 0x16 0x03 that follows `startAfter` (when given).
 */
export interface TlsRecord {
  /** Which way: client (the side that connected) to server, or back. */
  readonly dir: "c2s" | "s2c";
  /** 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data. */
  readonly type: number;
  /** Record payload length (without the 5-byte header). */
  readonly length: number;
  /** First handshake message type of a plaintext handshake record (1 ClientHello, 4 NewSessionTicket, 13 CertificateRequest, ...). */
  readonly handshakeType?: number;
  /** For plaintext handshake records: each message in it (type and body length). */
  readonly messages?: ReadonlyArray<{ type: number; length: number }>;
  /** Arrival order over both directions. */
  readonly seq: number;
}

export interface RecordProxy {
  readonly port: number;
  readonly records: TlsRecord[];
  close(): void;
}

export const HANDSHAKE = 22;
export const APPLICATION_DATA = 23;
export const CLIENT_HELLO = 1;
export const NEW_SESSION_TICKET = 4;
export const CERTIFICATE_REQUEST = 13;

export async function recordProxy(host: string, target: { host: string; port: number }, options: { startAfter?: { c2s?: string; s2c?: string } } = {}): Promise<RecordProxy> {
  const records: TlsRecord[] = [];
  const sockets: Socket[] = [];
  let seq = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.push(client, upstream);
    const pipe = (from: Socket, to: Socket, dir: "c2s" | "s2c") => {
      const reader = recordReader(dir, options.startAfter?.[dir], (r) => records.push({ ...r, seq: seq++ }));
      from.on("data", (chunk: Buffer) => {
        reader(chunk);
        to.write(chunk);
      });
      from.on("end", () => to.end());
      from.on("error", () => to.destroy());
      from.on("close", () => to.destroy());
    };
    pipe(client, upstream, "c2s");
    pipe(upstream, client, "s2c");
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    records,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * One raw inbound TCP connection on loopback behind a record relay: connect to `proxy.port`; the
 * socket the listener accepted comes in `inbound`. `close()` closes the relay and the listener.
 */
export async function relayedListener(): Promise<{ proxy: RecordProxy; inbound: Promise<Socket>; close(): void }> {
  let accepted!: (socket: Socket) => void;
  const inbound = new Promise<Socket>((resolve) => (accepted = resolve));
  const listener = createServer((socket) => accepted(socket));
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const proxy = await recordProxy("127.0.0.1", { host: "127.0.0.1", port: (listener.address() as AddressInfo).port });
  return {
    proxy,
    inbound,
    close() {
      proxy.close();
      listener.close();
    },
  };
}

function recordReader(dir: "c2s" | "s2c", startAfter: string | undefined, emit: (r: Omit<TlsRecord, "seq">) => void): (chunk: Buffer) => void {
  let buffer = Buffer.alloc(0);
  let started = false;
  return (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!started) {
      const marker = startAfter === undefined ? 0 : buffer.indexOf(startAfter);
      if (marker < 0) return;
      const from = startAfter === undefined ? 0 : marker + Buffer.byteLength(startAfter);
      const start = buffer.indexOf(Buffer.from([HANDSHAKE, 3]), from);
      if (start < 0) return;
      buffer = buffer.subarray(start);
      started = true;
    }
    while (buffer.length >= 5) {
      const type = buffer[0]!;
      const length = buffer.readUInt16BE(3);
      if (buffer.length < 5 + length) break;
      const body = buffer.subarray(5, 5 + length);
      emit({ dir, type, length, ...(type === HANDSHAKE ? handshakeMessages(body) : {}) });
      buffer = buffer.subarray(5 + length);
    }
  };
}

/** Messages of a plaintext handshake record (type: 1 byte, length: 3 bytes, RFC 8446 §4). Encrypted TLS 1.2 Finished records read as garbage: only the first type is trusted then. */
function handshakeMessages(body: Buffer): { handshakeType: number; messages: Array<{ type: number; length: number }> } {
  const messages: Array<{ type: number; length: number }> = [];
  for (let i = 0; i + 4 <= body.length; ) {
    const length = body.readUIntBE(i + 1, 3);
    messages.push({ type: body[i]!, length });
    i += 4 + length;
  }
  return { handshakeType: body[0]!, messages };
}
