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
