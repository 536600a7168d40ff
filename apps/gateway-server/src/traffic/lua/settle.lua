-- The end of an admitted request, in every scope it counted in: its lease leaves the
-- running sets, unused tokens go back (a negative refund charges what it used beyond
-- its reservation), and its request too when it never ran. Same arithmetic as admit.lua.
--
-- KEYS: per scope, its bucket hash and its running-requests sorted set.
-- ARGV[1] tokens to give back (may be negative), ARGV[2] 1 to give the request back,
-- ARGV[3] the lease, then per scope: requests_per_minute, tokens_per_minute (0: none).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local PERIOD = 60000
local refund = tonumber(ARGV[1])
local request = tonumber(ARGV[2])
local lease = ARGV[3]
local n = #KEYS / 2

-- admit.lua's refill: a script cannot load another, and one arithmetic must hold.
local function refill(level, at, cap)
  if level == nil or at == nil then return cap, now end
  local elapsed = math.max(0, now - at)
  return math.min(cap, level + elapsed * cap / PERIOD), math.max(at, now)
end

local function full_in(level, cap)
  return math.max(0, math.ceil((cap - level) * PERIOD / cap))
end

for i = 1, n do
  local hash = KEYS[2 * i - 1]
  redis.call('ZREM', KEYS[2 * i], lease)
  local rpm, tpm = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local h = redis.call('HMGET', hash, 'r', 'rt', 't', 'tt')
  local keep = 0
  if rpm > 0 and request == 1 then
    local r, rt = refill(tonumber(h[1]), tonumber(h[2]), rpm)
    r = math.min(rpm, r + 1)
    redis.call('HSET', hash, 'r', string.format('%.6f', r), 'rt', rt)
    keep = math.max(keep, full_in(r, rpm))
  end
  if tpm > 0 and refund ~= 0 then
    local t, tt = refill(tonumber(h[3]), tonumber(h[4]), tpm)
    t = math.min(tpm, t + refund)
    redis.call('HSET', hash, 't', string.format('%.6f', t), 'tt', tt)
    keep = math.max(keep, full_in(t, tpm))
  end
  -- Never shorter than the key already lives (its other bucket), never without an end.
  if redis.call('EXISTS', hash) == 1 then
    redis.call('PEXPIRE', hash, math.max(keep + 1000, redis.call('PTTL', hash)))
  end
end
return 1
