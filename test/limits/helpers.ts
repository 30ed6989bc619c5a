import "reflect-metadata";
import { connect, createServer, type Server, type Socket } from "node:net";
import { configFromObject } from "../../core/config/load.js";
import { createLogger } from "../../core/logging/logger.js";
import { createServer as createS2sServer, type S2sServer } from "../../core/server/server.js";
import { listenOnFreePort } from "../helpers/ports.js";
import { DEADLINE_MS } from "../helpers/wait.js";

/** A server whose log lines (JSON) land in `lines`, for "logged once per burst" checks. */
export async function startLogged(raw: Record<string, unknown>): Promise<{ server: S2sServer; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const server = createS2sServer(configFromObject(raw, { baseDir: process.cwd() }), { logger });
  await server.start();
  return { server, lines };
}

/** A TCP connection from a chosen loopback source address; `text` collects what the server sends. */
export interface Conn {
  readonly socket: Socket;
  text: string;
  readonly closed: Promise<void>;
}

export function connectFrom(localAddress: string, host: string, port: number, ms = DEADLINE_MS): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress });
    socket.setEncoding("utf8");
    const timer = setTimeout(() => reject(new Error(`connect to ${host}:${port} timed out`)), ms);
    const conn: Conn = { socket, text: "", closed: new Promise((r) => socket.once("close", () => r())) };
    socket.on("data", (chunk: string) => (conn.text += chunk));
    socket.on("error", () => {});
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(conn);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A TCP server that accepts and never says a word (an authoritative server that stalls); counts connections. */
export async function stallServer(host: string): Promise<{ server: Server; port: number; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => sockets.delete(s));
  });
  const port = await listenOnFreePort(server, host);
  return {
    server,
    port,
    accepted: () => accepted,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
