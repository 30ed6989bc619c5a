/**
 * VerifyRelay as pure logic against a fake host (the Redis side runs in test/cluster/verify.test.ts):
 * who verifies, the deadline, the owner's side, and Redis failing under a request.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { createLogger, type DialbackVerdict, type DialbackVerifier, type DialbackVerifyRequest } from "../../core/index.js";
import { verifyChannel, VerifyRelay, type VerifyRelayHost } from "./verify-relay.js";

const REQUEST: DialbackVerifyRequest = { local: "a.example", remote: "b.example", id: "s1", key: "k" };

/** A host whose Redis records what is published and answers with `receivers` (or fails). */
function fakeHost(options: { owner?: string | Error; receivers?: number | Error; ready?: boolean; verifier?: DialbackVerifier } = {}) {
  const published: Array<{ channel: string; message: unknown[] }> = [];
  const down: string[] = [];
  const redis = {
    publish: async (channel: string, text: string) => {
      published.push({ channel, message: JSON.parse(text) as unknown[] });
      if (options.receivers instanceof Error) throw options.receivers;
      return options.receivers ?? 1;
    },
  } as unknown as Redis;
  const host: VerifyRelayHost = {
    node: "node2",
    logger: createLogger("silent"),
    command: () => (options.ready === false ? undefined : redis),
    owner: async () => {
      if (options.owner instanceof Error) throw options.owner;
      return options.owner ?? "node1";
    },
    verifier: () => options.verifier,
    redisDown: (err) => void down.push(err.message),
  };
  return { host, published, down };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("VerifyRelay", () => {
  it("verifies here when this node owns the pair, Redis is away, or the owner look-up fails", async () => {
    assert.equal(await new VerifyRelay(fakeHost({ owner: "node2" }).host).verify(REQUEST, 1000), undefined);
    assert.equal(await new VerifyRelay(fakeHost({ ready: false }).host).verify(REQUEST, 1000), undefined);
    const failing = fakeHost({ owner: new Error("Redis did not answer") });
    assert.equal(await new VerifyRelay(failing.host).verify(REQUEST, 1000), undefined);
    assert.deepEqual(failing.down, ["Redis did not answer"]);
  });

  it("asks the owner on its channel and returns its answer, matched by correlation id", async () => {
    const { host, published } = fakeHost();
    const relay = new VerifyRelay(host);
    const verdict = relay.verify(REQUEST, 60_000);
    await tick();
    assert.equal(published.length, 1);
    const [q] = published;
    assert.equal(q!.channel, verifyChannel("node1"));
    assert.deepEqual(q!.message.slice(2), ["node2", "a.example", "b.example", "s1", "k"]);
    relay.onMessage(JSON.stringify(["a", "another id", "invalid"]));
    relay.onMessage(JSON.stringify(["a", q!.message[1], "valid"]));
    assert.equal(await verdict, "valid");
  });

  it("an owner that does not listen: remote-server-timeout at once; one that never answers: at the deadline", async () => {
    assert.deepEqual(await new VerifyRelay(fakeHost({ receivers: 0 }).host).verify(REQUEST, 60_000), { error: "remote-server-timeout" });
    assert.deepEqual(await new VerifyRelay(fakeHost({ receivers: 1 }).host).verify(REQUEST, 20), { error: "remote-server-timeout" });
  });

  it("Redis failing under the request: verify here (availability first)", async () => {
    const { host, down } = fakeHost({ receivers: new Error("connection closed") });
    assert.equal(await new VerifyRelay(host).verify(REQUEST, 60_000), undefined);
    assert.deepEqual(down, ["connection closed"]);
  });

  it("as the owner: runs its verifier and publishes the verdict to the asker; errors pass through, no verifier is a timeout", async () => {
    const asked: DialbackVerifyRequest[] = [];
    let verdict: DialbackVerdict = { error: "remote-server-not-found" };
    const { host, published } = fakeHost({ verifier: { verifyHere: async (r) => (asked.push(r), verdict) } });
    const relay = new VerifyRelay(host);
    relay.onMessage(JSON.stringify(["q", "c1", "node3", "a.example", "b.example", "s9", "key9"]));
    await tick();
    assert.deepEqual(asked, [{ local: "a.example", remote: "b.example", id: "s9", key: "key9" }]);
    assert.deepEqual(published, [{ channel: verifyChannel("node3"), message: ["a", "c1", { error: "remote-server-not-found" }] }]);
    verdict = "invalid";
    relay.onMessage(JSON.stringify(["q", "c2", "node3", "a.example", "b.example", "s9", "bad"]));
    await tick();
    assert.deepEqual(published[1]!.message, ["a", "c2", "invalid"]);
    // Malformed messages are logged and dropped, never thrown.
    relay.onMessage("not json");
    relay.onMessage(JSON.stringify(["q", "c3", 42]));
    const bare = fakeHost();
    new VerifyRelay(bare.host).onMessage(JSON.stringify(["q", "c4", "node3", "a.example", "b.example", "s", "k"]));
    await tick();
    assert.deepEqual(bare.published[0]!.message, ["a", "c4", { error: "remote-server-timeout" }]);
  });

  it("stop() answers what it still waits for with remote-server-timeout", async () => {
    const relay = new VerifyRelay(fakeHost().host);
    const verdict = relay.verify(REQUEST, 60_000);
    await tick();
    relay.stop();
    assert.deepEqual(await verdict, { error: "remote-server-timeout" });
  });
});
