-- Queue events for the bot. KEYS: inbound stream, epoch. ARGV: expected generation ('' for
-- any), candidate generation, then one or more event JSONs. Entries queued again after the bus
-- lost its data (an expected generation is given) carry `r`, so the bot knows they may be
-- logged already. Returns {generation, id…}; queues nothing and returns {generation} alone when
-- the generation is not the expected one.
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], ARGV[2])
  epoch = ARGV[2]
end
if ARGV[1] ~= '' and ARGV[1] ~= epoch then return {epoch} end
local out = {epoch}
for i = 3, #ARGV do
  if ARGV[1] == '' then
    table.insert(out, redis.call('XADD', KEYS[1], '*', 'e', ARGV[i]))
  else
    table.insert(out, redis.call('XADD', KEYS[1], '*', 'e', ARGV[i], 'r', '1'))
  end
end
return out
