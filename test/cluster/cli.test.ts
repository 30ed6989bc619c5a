/**
 * `[cluster]` through the built CLI (docs/cluster.md, docs/configuration.md): check-config refuses a cluster without
 * `s2s.shared` (exit 2); `start` exits 1 with a clear line when Redis is unreachable, and runs a
 * node (then stops it gracefully) when Redis is there.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt } from "../helpers/build.js";
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
