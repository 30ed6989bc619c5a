import { test } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket } from "./token-bucket.js";

test("rejects a rate that is not positive", () => {
  assert.throws(() => new TokenBucket(0), /rate: expected a positive number/);
});

test("one second of burst, then a pause that brings the average back to the rate", () => {
  let now = 0;
  const bucket = new TokenBucket(1000, () => now);
  assert.equal(bucket.take(1000), 0, "a full bucket lets one second of bytes through");
  assert.equal(bucket.take(500), 500, "500 bytes over the budget cost 500 ms at 1000 B/s");
  now += 500;
  assert.equal(bucket.take(0), 0, "after the pause the bucket is back at zero");
  now += 10_000;
  assert.equal(bucket.take(1500), 500, "idle time banks at most one second of tokens");
});
