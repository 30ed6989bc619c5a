import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../logging/logger.js";
import type { HttpListenerConfig, PrometheusHandlerConfig } from "./config.js";

/** What a `mongoose_prometheus_handler` serves: the exposition text, produced per scrape. */
export type ScrapeSource = () => Promise<{ body: string; contentType: string }>;

/**
 * `[[listen.http]]`: one HTTP server per listener, routing by Host and path to its handlers
 * (MongooseIM's cowboy dispatch: `host = "_"` matches any Host). Only GET/HEAD; everything else
 * gets 404/405 without detail.
 */
export class HttpListeners {
  readonly #servers: Server[] = [];

  constructor(
    private readonly listeners: readonly HttpListenerConfig[],
    private readonly scrape: ScrapeSource | undefined,
    private readonly logger: Logger,
  ) {}

  /** Bound addresses, in config order. */
  addresses(): Array<{ address: string; port: number }> {
    return this.#servers.map((s) => {
      const a = s.address();
      return typeof a === "object" && a ? { address: a.address, port: a.port } : { address: String(a), port: 0 };
    });
  }

  async start(): Promise<void> {
    for (const listener of this.listeners) {
      const server = createServer((req, res) => void this.#handle(listener, req, res));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listener.port, listener.ipAddress, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", (err) => this.logger.error({ what: "listener_error", kind: "http", err }, "HTTP listener error"));
      this.#servers.push(server);
      this.logger.info({ what: "listening", kind: "http", address: listener.ipAddress, port: listener.port, paths: listener.prometheus.map((h) => h.path) });
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
    this.#servers.length = 0;
  }

  async #handle(listener: HttpListenerConfig, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    const handler = listener.prometheus.find((h: PrometheusHandlerConfig) => h.path === path && (h.host === "_" || h.host === host));
    if (!handler || !this.scrape) return void res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405, { allow: "GET, HEAD" }).end();
    try {
      const { body, contentType } = await this.scrape();
      res.writeHead(200, { "content-type": contentType });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (err) {
      this.logger.error({ what: "metrics_scrape_failed", err });
      res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n");
    }
  }
}
