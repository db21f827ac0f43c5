-- Extend a seat held by `holder`; a seat that vanished (Redis restarted empty) is taken back
-- unless somebody else took the nickname meanwhile. KEYS: presence, members.
-- ARGV: key, holder, ttl_ms, nick, address.
local current = redis.call('HGET', KEYS[2], ARGV[1])
if not current then
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({n = ARGV[4], h = ARGV[2], a = ARGV[5]}))
elseif cjson.decode(current).h ~= ARGV[2] then
  return 0
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return 1
