-- KEYS: a lease. ARGV: the holder's token, its new TTL (ms). Only the holder renews.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
