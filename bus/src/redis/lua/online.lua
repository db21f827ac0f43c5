-- Online counts: drop the reports that expired (Redis clock), record one gateway's report if
-- given (a zero ttl withdraws it), and return the sum of the reports still valid.
-- KEYS: until zset (gateway -> expiry ms), sockets hash (gateway -> count).
-- ARGV: gateway ('' to only read), sockets, ttl ms.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for _, gw in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('ZREM', KEYS[1], gw)
  redis.call('HDEL', KEYS[2], gw)
end
if ARGV[1] ~= '' then
  local ttl = tonumber(ARGV[3])
  if ttl > 0 then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  else
    redis.call('ZREM', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
  end
end
local sum = 0
for _, n in ipairs(redis.call('HVALS', KEYS[2])) do sum = sum + (tonumber(n) or 0) end
return sum
