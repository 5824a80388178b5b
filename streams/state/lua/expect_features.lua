-- A model's predictions come without features (they are sent as FeatureEvents): until its features topic has
-- a partition of its own here, a placeholder one holds its windows open from this event time (stale by the
-- wall clock, as a quiet features partition is, if FeatureEvents never come).
-- KEYS: partition event times, features seen.  ARGV: placeholder field, event time, wall time.
-- Returns 1 when the placeholder was set, 0 when the model has a features partition (or the placeholder).
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) < 0 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
