-- Free a case's open-appeal slot if it still names this appeal (another may have replaced it).
-- KEYS[1] the case's open-appeal key; ARGV[1] the appeal's token.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
