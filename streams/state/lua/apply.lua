-- KEYS: watermarks, partition event times, open windows, closed windows, late counter, detector states,
--       closed floor, then one hash per bucket, then one predictions hash per day.
-- ARGV: partition, min offset, max offset, max event time, bucket ttl, number of buckets, predictions ttl,
--       number of detector state fields, bucket seconds (0: no expiry), lateness seconds,
--       partitions expected to carry the model (0: whichever have carried it),
--       then field, state, ... (detector states),
--       then per bucket: bucket id, number of fields, field, increment, ...
--       then per day: number of predictions, prediction id, prediction json, ...
-- A bucket is late when its window is closed (in the closed set, or at or below the floor the set was trimmed to),
-- or when it never opened and the model's event-time horizon (as closable_buckets computes it, before this
-- batch) has passed it: it would have been closed already.
local wm = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if wm >= tonumber(ARGV[3]) then return 0 end
if wm >= tonumber(ARGV[2]) then return -1 end
local ttl = tonumber(ARGV[5])
local n_windows = tonumber(ARGV[6])
local n_online = tonumber(ARGV[8])
local bucket = tonumber(ARGV[9])
local horizon = nil
if bucket > 0 then
  local times = redis.call('HVALS', KEYS[2])
  if #times >= tonumber(ARGV[11]) then
    for _, t in ipairs(times) do
      local h = tonumber(t) - tonumber(ARGV[10])
      if horizon == nil or h < horizon then horizon = h end
    end
  end
end
local floor = tonumber(redis.call('GET', KEYS[7]) or '-1e308')
local pos = 12
for i = 0, n_online - 1 do
  redis.call('HSET', KEYS[6], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
end
pos = pos + 2 * n_online
for k = 8, 7 + n_windows do
  local window_id = ARGV[pos]
  local n_fields = tonumber(ARGV[pos + 1])
  pos = pos + 2
  local late = tonumber(window_id) <= floor or redis.call('SISMEMBER', KEYS[4], window_id) == 1
  if not late and horizon ~= nil and (tonumber(window_id) + 1) * bucket <= horizon then
    late = redis.call('SISMEMBER', KEYS[3], window_id) == 0
  end
  if late then
    for i = 0, n_fields - 1 do
      if ARGV[pos + 2 * i] == '__n__' then redis.call('INCRBY', KEYS[5], ARGV[pos + 2 * i + 1]) end
    end
  else
    for i = 0, n_fields - 1 do
      redis.call('HINCRBY', KEYS[k], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
    end
    redis.call('EXPIRE', KEYS[k], ttl)
    redis.call('SADD', KEYS[3], window_id)
  end
  pos = pos + 2 * n_fields
end
for k = 8 + n_windows, #KEYS do
  local n = tonumber(ARGV[pos])
  pos = pos + 1
  for i = 0, n - 1 do
    redis.call('HSET', KEYS[k], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
  end
  redis.call('EXPIRE', KEYS[k], ARGV[7])
  pos = pos + 2 * n
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local pts = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1e308')
if tonumber(ARGV[4]) > pts then redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
return 1
