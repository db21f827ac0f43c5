-- A visitor's message in one round trip: queue it for the bot, then (only once queued) add it
-- to the room's history and publish its frame. KEYS: inbound stream, history, epoch. ARGV: event
-- JSON, message JSON, history length, channel, frame, candidate generation. A failed XADD fails
-- the script before anything else happens; later steps report their error text (or "") instead
-- of failing it, since the message is accepted once queued. Returns the entry's id and the
-- generation it was queued under (set to the candidate when missing), so the gateway can keep
-- the message until the bot has logged it.
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  redis.call('SET', KEYS[3], ARGV[6])
  epoch = ARGV[6]
end
local function step(reply)
  if type(reply) == 'table' and reply.err then return reply.err end
  return ''
end
local history = step(redis.pcall('RPUSH', KEYS[2], ARGV[2]))
if history == '' then history = step(redis.pcall('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)) end
local published = step(redis.pcall('PUBLISH', ARGV[4], ARGV[5]))
return {id, epoch, history, published}
