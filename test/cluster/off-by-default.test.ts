/**
 * A single node pays nothing for cluster mode (docs/cluster.md): without [cluster] the Redis client is
 * never loaded and no CLUSTER provider exists; with it, both are there (the positive control).
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { CLUSTER } from "../../core/cluster/cluster.js";
import { configFromObject } from "../../core/config/load.js";
import { createLogger } from "../../core/logging/logger.js";
import { createServer } from "../../core/server/server.js";
import { skipWithoutRedis, startRedis } from "../helpers/redis-server.js";
import { SHARED, clusterSection } from "./cluster-nodes.js";

const require = createRequire(import.meta.url);
const ioredisLoaded = () => Object.keys(require.cache).some((k) => k.includes("/node_modules/ioredis/"));

describe("cluster mode is off by default", { skip: skipWithoutRedis() }, () => {
  it("loads ioredis only when [cluster] is set", async () => {
    const single = createServer(configFromObject({ general: { hosts: ["a.example"] } }, { baseDir: process.cwd() }), { logger: createLogger("silent") });
    await single.start();
    assert.equal(single.container.isRegistered(CLUSTER, true), false);
    assert.equal(ioredisLoaded(), false, "a single node never imports the Redis client");
    await single.stop();

    const redis = await startRedis();
    try {
      const config = configFromObject({ general: { hosts: ["a.example"] }, s2s: { shared: SHARED }, cluster: clusterSection(redis.url, "solo") }, { baseDir: process.cwd() });
      const node = createServer(config, { logger: createLogger("silent") });
      await node.start();
      assert.equal(node.container.isRegistered(CLUSTER, true), true);
      assert.equal(ioredisLoaded(), true);
      await node.stop();
    } finally {
      await redis.stop();
    }
  });
});
