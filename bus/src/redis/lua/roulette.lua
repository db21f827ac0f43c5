-- Pair a roulette ticket or queue it: the rule of `protocol::events::best_match`, atomically.
-- KEYS: queue (zset), tickets (hash). ARGV: ticket JSON, id, now ms, score for a new entry.
-- Returns the partner's JSON, or nil when the ticket was queued.
local me = cjson.decode(ARGV[1])
local now = tonumber(ARGV[3])
local function list(v) if type(v) == 'table' then return v end return {} end
local function has(l, x) for _, v in ipairs(list(l)) do if v == x then return true end end return false end
local function open(t) return #list(t.interests) == 0 or tonumber(t.open_at_ms) <= now end
-- Two who just parted (each the other's last stranger) until the later of their again_at_ms.
local function held(a, b)
  return a.last_peer == b.id and b.last_peer == a.id
    and now < math.max(tonumber(a.again_at_ms) or 0, tonumber(b.again_at_ms) or 0)
end
local old = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
local best, best_rank = nil, 99
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, 999)) do
  local raw = redis.call('HGET', KEYS[2], id)
  if not raw then
    redis.call('ZREM', KEYS[1], id)
  else
    local t = cjson.decode(raw)
    if t.id ~= me.id and t.key ~= me.key and not has(me.blocked, t.id) and not has(t.blocked, me.id)
      and not held(me, t) then
      local again = me.last_peer == t.id or t.last_peer == me.id
      local shared = false
      for _, tag in ipairs(list(me.interests)) do
        if has(t.interests, tag) then shared = true; break end
      end
      local rank = nil
      if shared then
        if again then rank = 3 else rank = 1 end
      elseif open(me) and open(t) then
        if again then rank = 3 else rank = 2 end
      end
      if rank == 1 then best = raw; best_rank = 1; break end
      if rank and rank < best_rank then best = raw; best_rank = rank end
    end
  end
end
if best then
  local t = cjson.decode(best)
  redis.call('ZREM', KEYS[1], t.id)
  redis.call('HDEL', KEYS[2], t.id)
  return best
end
redis.call('ZADD', KEYS[1], old or ARGV[4], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return false
