-- Nicknames of live seats. KEYS: presence, members.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local out = {}
for _, k in ipairs(keys) do
  local v = redis.call('HGET', KEYS[2], k)
  if v then table.insert(out, cjson.decode(v).n) end
end
return out
