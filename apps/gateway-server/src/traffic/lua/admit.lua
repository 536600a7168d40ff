-- Admit one request against every scope it counts in, or none (one script: atomic).
-- The arithmetic is bucket.rs's, on the server's clock, so every replica sees one time.
--
-- KEYS: per scope, its bucket hash and its running-requests sorted set.
-- ARGV[1] tokens to reserve, ARGV[2] the lease (member of the sorted sets),
-- ARGV[3] lease milliseconds, then per scope: requests_per_minute, tokens_per_minute,
-- max_concurrent_streams (0: no such limit).
-- Returns {1, per scope: requests left, ms to full, tokens left, ms to full (-1: no
-- limit)} or {0, scope index from 0, limit (1 requests, 2 tokens, 3 streams), wait ms
-- (-1: never fits)}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local PERIOD = 60000
local STREAM_RETRY_MS = 1000
local cost = tonumber(ARGV[1])
local lease = ARGV[2]
local lease_ms = tonumber(ARGV[3])
local n = #KEYS / 2

local function refill(level, at, cap)
  if level == nil or at == nil then return cap, now end
  local elapsed = math.max(0, now - at)
  return math.min(cap, level + elapsed * cap / PERIOD), math.max(at, now)
end

local function wait(level, cap, amount)
  local missing = amount - level
  if missing <= 0 then return 0 end
  return math.ceil(missing * PERIOD / cap)
end

local refusal = nil
local function worse(i, kind, ms)
  if refusal == nil or (refusal[3] ~= -1 and (ms == -1 or ms > refusal[3])) then
    refusal = {i - 1, kind, ms}
  end
end

local state = {}
for i = 1, n do
  local zset = KEYS[2 * i]
  local base = 4 + 3 * (i - 1)
  local s = {rpm = tonumber(ARGV[base]), tpm = tonumber(ARGV[base + 1]), streams = tonumber(ARGV[base + 2])}
  local h = redis.call('HMGET', KEYS[2 * i - 1], 'r', 'rt', 't', 'tt')
  if s.rpm > 0 then
    s.r, s.rt = refill(tonumber(h[1]), tonumber(h[2]), s.rpm)
    if s.r < 1 then worse(i, 1, wait(s.r, s.rpm, 1)) end
  end
  if s.tpm > 0 then
    s.t, s.tt = refill(tonumber(h[3]), tonumber(h[4]), s.tpm)
    if cost > s.tpm then worse(i, 2, -1) elseif s.t < cost then worse(i, 2, wait(s.t, s.tpm, cost)) end
  end
  if s.streams > 0 then
    redis.call('ZREMRANGEBYSCORE', zset, '-inf', now)
    if redis.call('ZCARD', zset) >= s.streams then worse(i, 3, STREAM_RETRY_MS) end
  end
  state[i] = s
end
if refusal ~= nil then
  return {0, refusal[1], refusal[2], refusal[3]}
end

local out = {1}
for i = 1, n do
  local hash, zset, s = KEYS[2 * i - 1], KEYS[2 * i], state[i]
  local r_left, r_full, t_left, t_full = -1, -1, -1, -1
  local keep = 0
  if s.rpm > 0 then
    s.r = s.r - 1
    redis.call('HSET', hash, 'r', string.format('%.6f', s.r), 'rt', s.rt)
    r_left, r_full = math.max(0, math.floor(s.r)), wait(s.r, s.rpm, s.rpm)
    keep = math.max(keep, r_full)
  end
  if s.tpm > 0 then
    s.t = s.t - cost
    redis.call('HSET', hash, 't', string.format('%.6f', s.t), 'tt', s.tt)
    t_left, t_full = math.max(0, math.floor(s.t)), wait(s.t, s.tpm, s.tpm)
    keep = math.max(keep, t_full)
  end
  -- A full bucket and a missing one mean the same: the key lives until it would be full.
  if keep > 0 then redis.call('PEXPIRE', hash, keep + 1000) end
  if s.streams > 0 then
    redis.call('ZADD', zset, now + lease_ms, lease)
    redis.call('PEXPIRE', zset, 2 * lease_ms)
  end
  table.insert(out, r_left)
  table.insert(out, r_full)
  table.insert(out, t_left)
  table.insert(out, t_full)
end
return out
