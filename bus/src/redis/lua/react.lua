-- One reaction change on one message (see bus/src/reactions.rs for the rule). KEYS: the
-- message's reactors hash (field kind:reactor -> its emoji, "\n"-joined), its counts hash
-- (c:emoji -> visitors with it, t:emoji -> moderators with it), the room's history list.
-- ARGV: message id, mode (t toggle, x shadow toggle, a staff add, r staff remove), reactor,
-- emoji, ttl ms, reactors max, emoji per reactor max, staff emoji max.
-- A shadow reactor's field (x:reactor) lives in the counts hash, so that every change returns
-- the shadow reactors with the totals. ARGV[9]: shadow reactors max.
-- Returns {'full'} when nothing could be added, else {'ok', mine ("\n"-joined), counts field,
-- value, ...}. A change that is not a shadow toggle also rewrites the message's totals in its
-- history entry, when the history still has it.
local id, mode, reactor, emoji = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local prefix = ({t = 'v:', x = 'x:', a = 's:', r = 's:'})[mode]
if not prefix then return redis.error_reply('unknown reaction mode') end
local field = prefix .. reactor
local hash = KEYS[1]
if mode == 'x' then hash = KEYS[2] end
local current = redis.call('HGET', hash, field)
local mine = {}
local had = false
if current then
  for e in string.gmatch(current, '[^\n]+') do
    if e == emoji then had = true else table.insert(mine, e) end
  end
end
-- How many fields of `hash` start with `prefix` (two characters).
local function count_prefix(hash, prefix)
  local n = 0
  for _, f in ipairs(redis.call('HKEYS', hash)) do
    if string.sub(f, 1, 2) == prefix then n = n + 1 end
  end
  return n
end
local add
if mode == 't' or mode == 'x' then add = not had elseif mode == 'a' then add = true else add = false end
local counter = nil
if mode == 't' then counter = 'c:' .. emoji elseif mode == 'a' or mode == 'r' then counter = 't:' .. emoji end
local changed = false
if add and not had then
  if not current and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then return {'full'} end
  if mode == 'x' and not current and count_prefix(KEYS[2], 'x:') >= tonumber(ARGV[9]) then return {'full'} end
  if #mine >= tonumber(ARGV[7]) then return {'full'} end
  if mode == 'a' and redis.call('HEXISTS', KEYS[2], counter) == 0 and count_prefix(KEYS[2], 't:') >= tonumber(ARGV[8]) then
    return {'full'}
  end
  table.insert(mine, emoji)
  redis.call('HSET', hash, field, table.concat(mine, '\n'))
  if counter then redis.call('HINCRBY', KEYS[2], counter, 1) end
  changed = true
elseif had and not add then
  if #mine == 0 then
    redis.call('HDEL', hash, field)
  else
    redis.call('HSET', hash, field, table.concat(mine, '\n'))
  end
  if counter and redis.call('HINCRBY', KEYS[2], counter, -1) <= 0 then redis.call('HDEL', KEYS[2], counter) end
  changed = true
elseif had then
  table.insert(mine, emoji)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local totals = redis.call('HGETALL', KEYS[2])
if changed and mode ~= 'x' then
  local counts, staff, any = {}, {}, false
  for i = 1, #totals, 2 do
    local kind, e = string.sub(totals[i], 1, 2), string.sub(totals[i], 3)
    if kind == 'c:' then counts[e] = tonumber(totals[i + 1]); any = true
    elseif kind == 't:' then table.insert(staff, e); any = true end
  end
  table.sort(staff)
  local needle = '"id":"' .. id .. '"'
  local items = redis.call('LRANGE', KEYS[3], 0, -1)
  for i = #items, 1, -1 do
    if string.find(items[i], needle, 1, true) then
      local m = cjson.decode(items[i])
      if m.id == id then
        if any then
          local reactions = {counts = counts}
          if #staff > 0 then reactions.staff = staff end
          m.reactions = reactions
        else
          m.reactions = nil
        end
        redis.call('LSET', KEYS[3], i - 1, cjson.encode(m))
        break
      end
    end
  end
end
local out = {'ok', table.concat(mine, '\n')}
for _, v in ipairs(totals) do table.insert(out, v) end
return out
