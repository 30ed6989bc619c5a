import { createServer, type Server } from "node:net";

/**
 * Ports this process has handed out, per host. The kernel may give the same ephemeral port to two
 * `listen(0)` calls in a row once the first socket is closed, and a test that reserves two ports
 * for one address (an S2S and a component listener) must never get the same one twice.
 */
const handedOut = new Map<string, Set<number>>();

function listenOnAnyPort(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `count` distinct ports that were free on `host` a moment ago and that this process has not handed
 * out before (give each test server its own 127.0.0.x to avoid clashes with other processes).
 * The listeners are all held open until every port is chosen, so the kernel cannot repeat one.
 */
export async function freePorts(host: string, count: number): Promise<number[]> {
  const seen = handedOut.get(host) ?? new Set<number>();
  handedOut.set(host, seen);
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    // Bounded: the ephemeral range holds thousands of ports; a repeat is rare and is simply skipped.
    for (let attempt = 0; ports.length < count && attempt < count + 1000; attempt++) {
      const server = await listenOnAnyPort(host);
      held.push(server);
      const port = portOf(server);
      if (seen.has(port)) continue;
      seen.add(port);
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map(close));
  }
  if (ports.length < count) throw new Error(`could not find ${count} unused ports on ${host}`);
  return ports;
}

/** A port that was free on `host` a moment ago, never one this process handed out before. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(host, 1);
  return port!;
}

/** Ports for one test server, chosen before any server starts, so that their TOML files can name each other. */
export async function reservePorts(ip: string): Promise<{ ip: string; s2sPort: number; servicePort: number }> {
  const [s2sPort, servicePort] = await freePorts(ip, 2);
  return { ip, s2sPort: s2sPort!, servicePort: servicePort! };
}
