-- Fill an empty history. KEYS: history. ARGV: max length, messages...
if redis.call('LLEN', KEYS[1]) > 0 then return 0 end
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return 1
