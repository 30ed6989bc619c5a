import { createServer } from "node:net";

/** A port that was free on `host` a moment ago (give each test server its own 127.0.0.x to avoid clashes). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Ports for one test server, chosen before any server starts, so that their TOML files can name each other. */
export async function reservePorts(ip: string): Promise<{ ip: string; s2sPort: number; servicePort: number }> {
  return { ip, s2sPort: await freePort(ip), servicePort: await freePort(ip) };
}
