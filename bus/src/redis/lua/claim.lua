-- Claim a seat: purge expired seats, refuse a taken nickname, a full room or an address that
-- holds `per_address` seats already, else take it: the rule of `judge_claim` in bus/src/seats.rs,
-- applied atomically.
-- KEYS: presence zset, members hash. ARGV: key, holder, nick, capacity, ttl_ms, address,
-- per_address.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, k in ipairs(expired) do
  redis.call('ZREM', KEYS[1], k)
  redis.call('HDEL', KEYS[2], k)
end
local ttl = tonumber(ARGV[5])
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  if cjson.decode(current).h ~= ARGV[2] then return {'taken'} end
elseif redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return {'full'}
end
local out = {'granted'}
local mine = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
  local m = cjson.decode(v)
  table.insert(out, m.n)
  if m.a == ARGV[6] then mine = mine + 1 end
end
if not current then
  if mine >= tonumber(ARGV[7]) then return {'seats'} end
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({n = ARGV[3], h = ARGV[2], a = ARGV[6]}))
  table.insert(out, ARGV[3])
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return out
