import { request } from "node:http";
import { loadConfigFile } from "../config/load.js";

/** Why an admin verb could not get an answer: printed as is, exit 1. */
export class AdminUnavailable extends Error {
  constructor(message: string, readonly notRunning = false) {
    super(message);
  }
}

export interface AdminAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Finds the running server of `configFile` through its `[admin] socket` and sends one request.
 * The config file is validated first (a ConfigError propagates: exit 2, as check-config).
 */
export async function adminRequest(configFile: string, method: "GET" | "POST", path: string, timeoutMs = 60_000): Promise<AdminAnswer> {
  const config = loadConfigFile(configFile);
  if (!config.admin) {
    throw new AdminUnavailable(`${configFile} declares no admin endpoint: add [admin] with socket = "PATH" and restart the server`);
  }
  const socket = config.admin.socket;
  return new Promise<AdminAnswer>((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: { accept: "application/json" }, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch {
          reject(new AdminUnavailable(`unexpected answer on ${socket}: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new AdminUnavailable(`no answer on ${socket} within ${timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err instanceof AdminUnavailable) return reject(err);
      if (err.code === "ENOENT" || err.code === "ECONNREFUSED") {
        reject(new AdminUnavailable(`no server is running with ${configFile} (nothing answers on ${socket})`, true));
      } else if (err.code === "EACCES") {
        reject(new AdminUnavailable(`permission denied on ${socket}: run as the server's user (or one allowed by [admin] mode)`));
      } else reject(new AdminUnavailable(`cannot reach the server on ${socket}: ${err.message}`));
    });
    req.end();
  });
}
