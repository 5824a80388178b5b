-- KEYS: a trigger's running lease, the group's done set. ARGV: the holder's token, the trigger id, the set's TTL.
-- Records the trigger as done whoever holds the lease, and drops the lease if it is still this token's.
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
