-- Keep this replica's running requests counted: each lease gets another lease period
-- from now, if it is still there (ZADD XX never brings back one that expired).
--
-- KEYS: running-requests sorted sets; ARGV[1] lease milliseconds, ARGV[1 + i] the
-- lease held in KEYS[i].
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease_ms = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + lease_ms, ARGV[1 + i])
  redis.call('PEXPIRE', KEYS[i], 2 * lease_ms)
end
return #KEYS
