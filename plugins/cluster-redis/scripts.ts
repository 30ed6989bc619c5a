/**
 * Lua scripts run atomically by Redis (no home-made consensus: a lease is one key written with
 * SET ... PX by whoever holds it, and Redis expires it).
 */

/** Take or renew a lease: KEYS[1] lease key, ARGV[1] holder, ARGV[2] lease ms. Returns the holder now. */
export const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return v`;

/** Drop a lease only if we still hold it: KEYS[1] lease key, ARGV[1] holder. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Publish only while it is still in time (redis-deadline.ts): ARGV[1] channel, ARGV[2] deadline on
 * Redis's clock (ms since the epoch), ARGV[3] message. Returns the receivers, or -1 when Redis ran
 * it too late (after a stall: the sender has already bounced the stanzas or sent them itself).
 * PUBLISH is no write, so calling TIME first is allowed on Redis 5 as well (no effects replication needed).
 */
export const PUBLISH_BY = `
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[2]) then return -1 end
return redis.call('PUBLISH', ARGV[1], ARGV[3])`;
