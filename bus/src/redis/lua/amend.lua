-- Edit (ARGV[2] = new text, with ARGV[3] = the edit's time for `edited`, when given) or remove
-- (no ARGV[2]) the message with id ARGV[1] in a history list. KEYS: history.
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i, raw in ipairs(items) do
  local m = cjson.decode(raw)
  if m.id == ARGV[1] then
    if ARGV[2] then
      m.text = ARGV[2]
      if ARGV[3] then
        m.edited = ARGV[3]
      end
      redis.call('LSET', KEYS[1], i - 1, cjson.encode(m))
    else
      redis.call('LSET', KEYS[1], i - 1, '__removed__')
      redis.call('LREM', KEYS[1], 0, '__removed__')
    end
    return 1
  end
end
return 0
