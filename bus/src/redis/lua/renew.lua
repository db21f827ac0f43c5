-- Renew the leader lock if we hold it, or take it back if it vanished (Redis restarted empty);
-- 0 only when another bot holds it. KEYS: lock. ARGV: id, ttl_ms.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
