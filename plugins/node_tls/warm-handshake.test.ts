/**
 * The start-up handshake with ourselves (warm-handshake.ts) on its own: it completes against a
 * server that finishes and drops it, and resolves "failed" (never throws, never hangs) when the
 * handshake fails or never progresses.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type Leaf } from "../../test/helpers/certs.js";
import { loadCertificateWithKey } from "../../core/index.js";
import { DEADLINE_MS, eventually } from "../../test/helpers/wait.js";
import { warmHandshake } from "./warm-handshake.js";

describe("warmHandshake", () => {
  let dir: string;
  let leaf: Leaf;
  let pem: { cert: string; key: string };

  before(() => {
    dir = makeCertDir();
    leaf = makeLeaf(makeCa(dir, "Warm-up CA"), { domains: ["warm.example"] });
    const loaded = loadCertificateWithKey(leaf.certfile, undefined);
    assert.ok("ok" in loaded);
    pem = { cert: loaded.ok.certPem, key: loaded.ok.keyPem };
  });
  after(() => removeCertDir(dir));

  it("completes both roles against a server that asks for the client's certificate and then drops the stream", async () => {
    const server = tls.createServer({ ...pem, requestCert: true, rejectUnauthorized: false });
    const seen: Array<{ servername: unknown; peer: string | undefined }> = [];
    server.on("secureConnection", (s: tls.TLSSocket) => {
      seen.push({ servername: s.servername, peer: s.getPeerX509Certificate()?.subject });
      s.destroy(); // what the provider's shared server does with a stream no acceptInbound waits for
    });
    assert.equal(await warmHandshake(tls.createSecureContext(pem), server, 20_000), "done");
    assert.deepEqual(seen, [{ servername: "warm-up.invalid", peer: "CN=warm.example" }]);
  });

  it("resolves failed when the handshake fails (a server without a certificate)", async () => {
    const server = tls.createServer({});
    const errors: Error[] = [];
    server.on("tlsClientError", (err: Error) => errors.push(err));
    assert.equal(await warmHandshake(tls.createSecureContext(pem), server, 20_000), "failed");
    await eventually(() => errors.length === 1, DEADLINE_MS, "the server side's failure");
  });

  it("resolves failed at its deadline when nothing answers", async () => {
    // A plain net.Server does nothing with the stream it is given: no ServerHello ever comes.
    const silent = new net.Server() as unknown as tls.Server;
    // The warm-up's own timer never keeps a process alive (unref); this one keeps the test's.
    const alive = setTimeout(() => {}, 20_000);
    try {
      assert.equal(await warmHandshake(tls.createSecureContext(pem), silent, 200), "failed");
    } finally {
      clearTimeout(alive);
    }
  });
});
