import type { Server } from "node:net";

// The same helper plugin authors get from "xmpp-s2s/testing".
export { freePort } from "../../testing/ports.js";

/**
 * Listens on a port the system picks on `host` and returns it: for a test server whose port
 * nothing has to know beforehand (no window between choosing a port and taking it).
 */
export async function listenOnFreePort(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error(`no port for a server on ${host}`);
  return address.port;
}
