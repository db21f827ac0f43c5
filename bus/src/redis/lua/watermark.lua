-- Raise the logged watermark to an entry id, unless the generation changed (the entries the
-- bot logged were queued before the bus lost its data: they say nothing of the new queue) or
-- the watermark is past it already. KEYS: epoch, logged. ARGV: generation, entry id.
-- Returns 1 when the watermark is at or past the id now, 0 for another generation.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local ms, seq = parse(ARGV[2])
if not ms then return 1 end
local current = redis.call('GET', KEYS[2])
if current then
  local cms, cseq = parse(current)
  if cms and (cms > ms or (cms == ms and cseq >= seq)) then return 1 end
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
