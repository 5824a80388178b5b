-- KEYS: label watermarks, detector states, label counts, then one performance hash per window.
-- ARGV: partition, min offset, max offset, ttl, number of state fields, field, state, ...,
--       joined, unmatched, errors, then per window: n, errors (one pair per performance KEY).
local wm = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if wm >= tonumber(ARGV[3]) then return 0 end
if wm >= tonumber(ARGV[2]) then return -1 end
local n_states = tonumber(ARGV[5])
local pos = 6
for i = 0, n_states - 1 do redis.call('HSET', KEYS[2], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1]) end
pos = pos + 2 * n_states
redis.call('HINCRBY', KEYS[3], 'joined', ARGV[pos])
redis.call('HINCRBY', KEYS[3], 'unmatched', ARGV[pos + 1])
redis.call('HINCRBY', KEYS[3], 'errors', ARGV[pos + 2])
pos = pos + 3
for k = 4, #KEYS do
  redis.call('HINCRBY', KEYS[k], 'n', ARGV[pos])
  redis.call('HINCRBY', KEYS[k], 'errors', ARGV[pos + 1])
  redis.call('EXPIRE', KEYS[k], ARGV[4])
  pos = pos + 2
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
