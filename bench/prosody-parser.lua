-- Prosody's stream parser (util.xmppstream over LuaExpat) on the bench corpus, the way mod_s2s
-- uses it: default namespace jabber:server, stanza size limit 512 KiB and 25,000 child elements
-- (mod_s2s's defaults for an authenticated stream), the corpus fed in chunks of CHUNK bytes.
-- Part of `npm run bench` (bench/scenarios/parser.ts writes the corpus and runs this script).
--
--   lua5.4 bench/prosody-parser.lua CORPUS_FILE RUNS EXPECTED_STANZAS [CHUNK]
--
-- Prints one JSON line: {"mbPerSec":..,"stanzasPerSec":..,"runs":..}. One untimed warm-up run,
-- then the median of RUNS timed runs (monotonic clock), like our side.

package.path = "/usr/lib/prosody/?.lua;" .. package.path
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath

local xmppstream = require "util.xmppstream"
local time = require "util.time"

local file, runs, expected, chunk_size = arg[1], tonumber(arg[2] or "5"), tonumber(arg[3] or "-1"), tonumber(arg[4] or "16384")
if not file then
	io.stderr:write("usage: lua5.4 prosody-parser.lua CORPUS_FILE RUNS EXPECTED_STANZAS [CHUNK]\n")
	os.exit(2)
end

local f = assert(io.open(file, "rb"))
local data = f:read("a")
f:close()

local chunks = {}
for at = 1, #data, chunk_size do
	chunks[#chunks + 1] = data:sub(at, at + chunk_size - 1)
end

local STANZA_SIZE_LIMIT = 1024 * 512 -- mod_s2s s2s_stanza_size_limit default
local MAX_CHILD_ELEMENTS = 25000      -- mod_s2s s2s_max_child_elements default

local function run_once()
	local count = 0
	local failure
	local session = { notopen = true }
	local callbacks = {
		default_ns = "jabber:server",
		streamopened = function(s) s.notopen = nil end,
		streamclosed = function() end,
		handlestanza = function() count = count + 1 end,
		error = function(_, e, d) failure = tostring(e) .. ": " .. tostring(d) end,
	}
	local stream = xmppstream.new(session, callbacks, STANZA_SIZE_LIMIT, { max_elements = MAX_CHILD_ELEMENTS })
	for i = 1, #chunks do
		local ok, err = stream:feed(chunks[i])
		if not ok then error("feed failed: " .. tostring(err)) end
	end
	if failure then error("parse error: " .. failure) end
	return count
end

local function check(n)
	if expected >= 0 and n ~= expected then
		error(string.format("parsed %d stanzas, expected %d", n, expected))
	end
end

check(run_once()) -- warm-up
local times = {}
for _ = 1, runs do
	collectgarbage("collect")
	local t0 = time.monotonic()
	local n = run_once()
	times[#times + 1] = time.monotonic() - t0
	check(n)
end
table.sort(times)
local mid = #times // 2
local t = (#times % 2 == 1) and times[mid + 1] or (times[mid] + times[mid + 1]) / 2
local stanzas = expected >= 0 and expected or run_once()
io.write(string.format('{"mbPerSec":%.3f,"stanzasPerSec":%.1f,"runs":%d}\n', #data / 1e6 / t, stanzas / t, #times))
