-- Release a seat if `holder` still holds it. KEYS: presence, members. ARGV: key, holder.
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current and cjson.decode(current).h == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
