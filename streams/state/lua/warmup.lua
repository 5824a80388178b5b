-- KEYS: watermarks, warm-up list, reference.  ARGV: partition, min offset, max offset, ttl, rows...
if redis.call('EXISTS', KEYS[3]) == 1 then return -2 end
local wm = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if wm >= tonumber(ARGV[3]) then return redis.call('LLEN', KEYS[2]) end
if wm >= tonumber(ARGV[2]) then return -1 end
for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return redis.call('LLEN', KEYS[2])
