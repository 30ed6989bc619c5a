import { chmodSync, unlinkSync } from "node:fs";
import { createConnection } from "node:net";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ERROR_CODES, S2sError } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import type { AdminConfig } from "./config.js";

/** One admin operation: query parameters in, a JSON-serialisable answer out (or an AdminRequestError). */
export type AdminRoute = (params: URLSearchParams) => unknown;

/** A request the operator got wrong (unknown remote, missing parameter): 4xx with its message. */
export class AdminRequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * The admin endpoint: HTTP/1.1 with JSON bodies over a unix socket (see config.ts for why a socket).
 * Routes are `METHOD /path`; reads are GET, actions POST.
 */
export class AdminServer {
  #server?: Server;

  constructor(
    private readonly config: AdminConfig,
    private readonly routes: Readonly<Record<string, AdminRoute>>,
    private readonly logger: Logger,
  ) {}

  get path(): string {
    return this.config.socket;
  }

  async start(): Promise<void> {
    await removeStaleSocket(this.config.socket);
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.config.socket, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#server = server;
    chmodSync(this.config.socket, this.config.mode);
    server.on("error", (err) => this.logger.error({ what: "listener_error", kind: "admin", err }, "admin socket error"));
    this.logger.info({ what: "listening", kind: "admin", socket: this.config.socket, mode: this.config.mode.toString(8) });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    // node removes the socket file on close; a crash leaves it, and start() removes a stale one.
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://admin");
    const route = this.routes[`${req.method} ${url.pathname}`];
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    if (!route) return reply(404, { error: `no admin operation ${req.method} ${url.pathname}` });
    this.logger.info({ what: "admin_request", method: req.method, path: url.pathname, params: Object.fromEntries(url.searchParams) });
    try {
      reply(200, await route(url.searchParams));
    } catch (err) {
      if (err instanceof AdminRequestError) return reply(err.status, { error: err.message });
      this.logger.error({ what: "admin_request_failed", path: url.pathname, err });
      reply(500, { error: (err as Error).message });
    }
  }
}

/**
 * A socket file left by a server that died is removed; one that answers belongs to a running
 * server with the same config, and starting a second one is refused.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw new S2sError(ERROR_CODES.CONFIG_INVALID, `admin.socket: ${path} is in use by a running server`);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
