-- Extend a seat held by `holder`. A seat that vanished (Redis restarted empty, or it lapsed
-- while Redis was away) is taken back only as a claim would take it: after purging expired
-- seats, if nobody else took the nickname, the room is below its capacity and the address
-- below its seats there. KEYS: presence, members.
-- ARGV: key, holder, ttl_ms, nick, address, capacity, per_address.
-- Returns 1 (held), 0 (nickname taken), -1 (room full), -2 (address holds its seats).
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[3])
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  if cjson.decode(current).h ~= ARGV[2] then return 0 end
else
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  for _, k in ipairs(expired) do
    redis.call('ZREM', KEYS[1], k)
    redis.call('HDEL', KEYS[2], k)
  end
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[6]) then return -1 end
  local mine = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
    if cjson.decode(v).a == ARGV[5] then mine = mine + 1 end
  end
  if mine >= tonumber(ARGV[7]) then return -2 end
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({n = ARGV[4], h = ARGV[2], a = ARGV[5]}))
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return 1
