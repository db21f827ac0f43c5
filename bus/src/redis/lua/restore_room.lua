-- Put back a visitor room or pair the bus lost, with its owner's entry (no limit: it was open
-- already). KEYS: rooms hash, owner set (or the rooms hash again when it has no owner).
-- ARGV: slug, room JSON, '1' when it has an owner. Returns 1 when it was missing.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('SADD', KEYS[2], ARGV[1]) end
return 1
