-- Slowmode for one address in one room: as many sends per period as the address holds live
-- seats there (at least one), as `slowmode_slots` in bus/src/seats.rs.
-- KEYS: presence, members, the address's send log (zset). ARGV: address, period_ms.
-- Returns -1 when a slot was taken, else the ms until one frees.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local period = tonumber(ARGV[2])
local slots = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).a == ARGV[1] then
    local until_ms = redis.call('ZSCORE', KEYS[1], all[i])
    if until_ms and tonumber(until_ms) > now then slots = slots + 1 end
  end
end
if slots < 1 then slots = 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - period)
local sent = redis.call('ZCARD', KEYS[3])
if sent >= slots then
  local frees = redis.call('ZRANGE', KEYS[3], sent - slots, sent - slots, 'WITHSCORES')
  local wait = tonumber(frees[2]) + period - now
  if wait < 1 then wait = 1 end
  return wait
end
redis.call('ZADD', KEYS[3], now, now .. ':' .. sent)
redis.call('PEXPIRE', KEYS[3], period)
return -1
