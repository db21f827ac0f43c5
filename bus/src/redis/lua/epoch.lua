-- The bus's data generation and the logged watermark, in one step: the generation is set to
-- the caller's candidate when missing (Redis came back empty, or this is its first use).
-- KEYS: epoch, logged. ARGV: candidate generation. Returns {generation, watermark or ''}.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
local logged = redis.call('GET', KEYS[2])
if not logged then logged = '' end
return {epoch, logged}
