-- Store a visitor room unless its owner holds `max` already (rooms gone from the snapshot no
-- longer count). KEYS: rooms hash, owner set. ARGV: slug, room JSON, max. Returns 1 if stored.
for _, slug in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('HEXISTS', KEYS[1], slug) == 0 then redis.call('SREM', KEYS[2], slug) end
end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
