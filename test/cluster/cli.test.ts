/**
 * `[cluster]` through the built CLI (docs/cluster.md, docs/configuration.md): check-config refuses a cluster without
 * `s2s.shared` (exit 2); `start` exits 1 with a clear line when Redis is unreachable, refuses a
 * password or when the node name is taken by a running node, and runs a node (then stops it
 * gracefully) when Redis is there.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir } from "../helpers/certs.js";
import { killChildren, run, RunningServer } from "../helpers/cli.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";

const skip = skipWithoutRedis();

describe("xmpp-s2s with [cluster]", { skip }, () => {
  let dir: string;
  let redis: TestRedis;

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "xs2s-cluster-cli-"));
    redis = await startRedis();
  });
  after(async () => {
    killChildren();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function toml(name: string, cluster: string, shared = 'shared = "s"'): Promise<string> {
    const port = await freePort("127.0.0.221");
    const file = join(dir, name);
    writeFileSync(file, `[general]\nhosts = ["a.example"]\n\n[[listen.s2s]]\nport = ${port}\nip_address = "127.0.0.221"\n\n[s2s]\nuse_starttls = "false"\n${shared}\n\n${cluster}\n`);
    return file;
  }

  it("check-config: [cluster] without s2s.shared is an error (exit 2)", async () => {
    const file = await toml("no-shared.toml", `[cluster]\nbackend = "redis"\nredis_url = "${redis.url}"`, "");
    const result = await run(["check-config", file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^s2s\.shared: missing \(expected a secret common to every node/m);
  });

  it("start: unreachable Redis exits 1 with the reason, before any listener opens", async () => {
    const port = await freePort("127.0.0.231"); // an address of this test only: nobody listens there
    const file = await toml("down.toml", `[cluster]\nbackend = "redis"\nredis_url = "redis://:hidden@127.0.0.231:${port}"`);
    const server = RunningServer.start(["--config", file]);
    const { code } = await server.exit();
    assert.equal(code, 1);
    const failed = server.logs().find((l) => l.what === "start_failed") as { err?: { message?: string } } | undefined;
    assert.match(failed?.err?.message ?? "", /^cluster\.redis_url: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.231:\d+/);
    assert.ok(!server.stdout.includes("hidden"), "the password is not logged");
    assert.ok(!server.logs().some((l) => l.what === "listening"), "no listener opened");
  });

  it("start: Redis refusing the password exits 1 with the reason, the password not logged", async () => {
    const locked = await startRedis("127.0.0.230", { password: "right" });
    try {
      const file = await toml("wrong-password.toml", `[cluster]\nbackend = "redis"\nredis_url = "redis://:wrong-one@127.0.0.230:${locked.port}"`);
      const server = RunningServer.start(["--config", file]);
      assert.equal((await server.exit()).code, 1);
      const failed = server.logs().find((l) => l.what === "start_failed") as { err?: { message?: string } } | undefined;
      assert.match(failed?.err?.message ?? "", /^cluster\.redis_url: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.230:\d+\/? \(.*(WRONGPASS|invalid password|NOAUTH)/);
      assert.ok(!server.stdout.includes("wrong-one"), "the password is not logged");
    } finally {
      await locked.stop();
    }
  });

  it("start: a second node with a running node's name exits 1 and says why; the first keeps running", async () => {
    const cluster = `[cluster]\nbackend = "redis"\nredis_url = "${redis.url}"\nnode = "twin"\nlease_seconds = 2`;
    const first = RunningServer.start(["--config", await toml("twin-1.toml", cluster)]);
    await first.waitForLog("started");
    const second = RunningServer.start(["--config", await toml("twin-2.toml", cluster)]);
    assert.equal((await second.exit()).code, 1);
    const failed = second.logs().find((l) => l.what === "start_failed") as { err?: { message?: string } } | undefined;
    assert.match(failed?.err?.message ?? "", /^cluster\.node: "twin" is already the name of a running node/);
    assert.ok(!second.logs().some((l) => l.what === "listening"), "no listener opened");
    assert.equal(first.child.exitCode, null, "the first node still runs");
    first.child.kill("SIGTERM");
    assert.equal((await first.exit()).code, 0);
  });

  it("start: a node reaches Redis over TLS (rediss://) with a password", async () => {
    const certs = makeCertDir();
    const ca = makeCa(certs, "Redis CA");
    const leaf = makeLeaf(ca, { domains: ["redis.test"], ips: ["127.0.0.230"] });
    const secure = await startRedis("127.0.0.230", { password: "tls-secret", tls: { certfile: leaf.certfile, keyfile: leaf.certfile, cafile: ca.cafile } });
    try {
      const url = secure.url.replace("rediss://", "rediss://:tls-secret@");
      const file = await toml("tls.toml", `[cluster]\nbackend = "redis"\nredis_url = "${url}"\nnode = "tls-node"\nlease_seconds = 2`);
      // The operator's trust store holds the CA of their Redis (here through NODE_EXTRA_CA_CERTS).
      const server = RunningServer.start(["--config", file], { ...process.env, NODE_EXTRA_CA_CERTS: ca.cafile });
      const started = await server.waitForLog("cluster_started");
      assert.equal(started.node, "tls-node");
      assert.match(String(started.redis), /^rediss:\/\/:\*\*\*@127\.0\.0\.230:\d+/);
      await server.waitForLog("started");
      server.child.kill("SIGTERM");
      assert.equal((await server.exit()).code, 0);
      // And a Redis whose certificate nobody trusts is refused (exit 1), not used unauthenticated.
      const untrusted = RunningServer.start(["--config", file]);
      assert.equal((await untrusted.exit()).code, 1);
      const failed = untrusted.logs().find((l) => l.what === "start_failed") as { err?: { message?: string } } | undefined;
      assert.match(failed?.err?.message ?? "", /^cluster\.redis_url: cannot reach Redis at rediss:.*(certificate|self-signed|issuer)/i);
    } finally {
      await secure.stop();
      removeCertDir(certs);
    }
  });

  it("start: a node joins the cluster and leaves it on SIGTERM (exit 0)", async () => {
    const file = await toml("up.toml", `[cluster]\nbackend = "redis"\nredis_url = "${redis.url}"\nnode = "cli-node"\nlease_seconds = 2`);
    const server = RunningServer.start(["--config", file]);
    const started = await server.waitForLog("cluster_started");
    assert.equal(started.node, "cli-node");
    await server.waitForLog("started");
    server.child.kill("SIGTERM");
    assert.equal((await server.exit()).code, 0);
  });
});
