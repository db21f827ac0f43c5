-- A visitor's message in one round trip: queue it for the bot, then (only once queued) add it
-- to the room's history and publish its frame. KEYS: inbound stream, history. ARGV: event
-- JSON, message JSON, history length, channel, frame. A failed XADD fails the script before
-- anything else happens; later steps report their error text (or "") instead of failing it,
-- since the message is accepted once queued.
redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])
local function step(reply)
  if type(reply) == 'table' and reply.err then return reply.err end
  return ''
end
local history = step(redis.pcall('RPUSH', KEYS[2], ARGV[2]))
if history == '' then history = step(redis.pcall('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)) end
local published = step(redis.pcall('PUBLISH', ARGV[4], ARGV[5]))
return {history, published}
