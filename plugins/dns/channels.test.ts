import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CHANNEL_MAX_AGE_MS, DnsChannels, MAX_IDLE_CHANNELS } from "./channels.js";

describe("DnsChannels (c-ares channels reused one resolution at a time)", () => {
  it("gives the channel back to the next taker; a second taker meanwhile gets a new one", () => {
    const channels = new DnsChannels({ timeoutMs: 1000, tries: 2, servers: ["127.0.0.1:5353"] });
    channels.prepare();
    assert.equal(channels.idle, 1, "one channel made at start-up");
    const first = channels.take();
    const second = channels.take();
    assert.notEqual(first, second, "never the same channel to two resolutions at once");
    assert.deepEqual(first.getServers(), ["127.0.0.1:5353"]);
    channels.give(first);
    assert.equal(channels.take(), first);
  });

  it("keeps at most MAX_IDLE_CHANNELS, and none older than CHANNEL_MAX_AGE_MS", () => {
    let now = 0;
    const channels = new DnsChannels({ timeoutMs: 1000, tries: 2, now: () => now });
    const taken = Array.from({ length: MAX_IDLE_CHANNELS + 2 }, () => channels.take());
    for (const c of taken) channels.give(c);
    assert.equal(channels.idle, MAX_IDLE_CHANNELS);
    now = CHANNEL_MAX_AGE_MS;
    const fresh = channels.take();
    assert.ok(!taken.includes(fresh), "an old channel is not reused (it read the system's servers when it was made)");
    channels.give(taken[0]!);
    assert.equal(channels.idle, 0, "nor taken back");
  });
});
