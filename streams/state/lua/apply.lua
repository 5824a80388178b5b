-- KEYS: watermarks, partition event times, open windows, closed windows, late counter, detector states,
--       closed floor, then one hash per bucket, then one predictions hash per day,
--       then (a model that joins labels) waiting labels, their due times, label counts, kept days,
--       performance index, then one performance hash per window.
-- ARGV: partition, min offset, max offset, max event time, bucket ttl, number of buckets, predictions ttl,
--       number of detector state fields, bucket seconds (0: no expiry), lateness seconds,
--       partitions expected to carry the model (0: whichever have carried it), number of days,
--       then field, state, ... (detector states),
--       then per bucket: bucket id, reference version, number of fields, field, increment, ...
--       then per day: day, number of predictions, prediction id, prediction json, ...
--       then joins flag (0: the model does not join labels; nothing follows), and if 1: expiry score of the
--       kept days, performance ttl, number of performance windows, then per window: id, predictions made;
--       then number of joins, then per join: prediction id, its window's position (1-based), lag bin or '',
--       number of fields, field, increment, ...
-- Returns 1 applied, 0 already applied, -1 overlapping the watermark, -3 a label began waiting for one of
-- these predictions after the batch was planned (re-plan: it is joined then), -4 a bucket is binned on
-- another reference version already (its '__v__'; re-plan its events on that version).
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
  -- as windows.event_horizon, without its stale features partitions: every partition of both input topics
  local pairs_ = redis.call('HGETALL', KEYS[2])
  local predictions = 0
  for i = 1, #pairs_, 2 do
    if tonumber(pairs_[i]) >= 0 then predictions = predictions + 1 end
  end
  local known = predictions > 0 and predictions or #pairs_ / 2
  if known > 0 and known >= tonumber(ARGV[11]) then
    for i = 2, #pairs_, 2 do
      local h = tonumber(pairs_[i]) - tonumber(ARGV[10])
      if horizon == nil or h < horizon then horizon = h end
    end
  end
end
local n_days = tonumber(ARGV[12])
local days_at = 13 + 2 * n_online
for k = 8, 7 + n_windows do
  local pinned = redis.call('HGET', KEYS[k], '__v__')
  if pinned and ARGV[days_at + 1] ~= '' and pinned ~= ARGV[days_at + 1] then return -4 end
  days_at = days_at + 3 + 2 * tonumber(ARGV[days_at + 2])
end
local join_key = 8 + n_windows + n_days
if n_days > 0 and #KEYS >= join_key + 4 then
  -- a label that began waiting after the batch was planned: re-plan (its prediction must join it, not be kept)
  if redis.call('EXISTS', KEYS[join_key]) == 1 then
    local p = days_at
    for d = 1, n_days do
      local n = tonumber(ARGV[p + 1])
      for i = 0, n - 1 do
        if redis.call('HEXISTS', KEYS[join_key], ARGV[p + 2 + 2 * i]) == 1 then return -3 end
      end
      p = p + 2 + 2 * n
    end
  end
end
local floor = tonumber(redis.call('GET', KEYS[7]) or '-1e308')
local pos = 13
for i = 0, n_online - 1 do
  redis.call('HSET', KEYS[6], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
end
pos = pos + 2 * n_online
for k = 8, 7 + n_windows do
  local window_id = ARGV[pos]
  local version = ARGV[pos + 1]
  local n_fields = tonumber(ARGV[pos + 2])
  pos = pos + 3
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
    if version ~= '' then redis.call('HSETNX', KEYS[k], '__v__', version) end
    redis.call('EXPIRE', KEYS[k], ttl)
    redis.call('SADD', KEYS[3], window_id)
  end
  pos = pos + 2 * n_fields
end
local day_ids = {}
for k = 8 + n_windows, 7 + n_windows + n_days do
  day_ids[#day_ids + 1] = ARGV[pos]
  local n = tonumber(ARGV[pos + 1])
  pos = pos + 2
  for i = 0, n - 1 do
    redis.call('HSET', KEYS[k], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
  end
  redis.call('EXPIRE', KEYS[k], ARGV[7])
  pos = pos + 2 * n
end
if ARGV[pos] == '1' then
  local pending, due, counts, days, index = KEYS[join_key], KEYS[join_key + 1], KEYS[join_key + 2],
    KEYS[join_key + 3], KEYS[join_key + 4]
  local expiry = ARGV[pos + 1]
  local perf_ttl = ARGV[pos + 2]
  local n_perf = tonumber(ARGV[pos + 3])
  pos = pos + 4
  for _, day in ipairs(day_ids) do redis.call('ZADD', days, 'GT', expiry, day) end
  for i = 1, n_perf do
    local key = KEYS[join_key + 4 + i]
    redis.call('HINCRBY', key, 'predicted', ARGV[pos + 1])
    redis.call('EXPIRE', key, perf_ttl)
    redis.call('ZADD', index, 'NX', ARGV[pos], ARGV[pos])
    pos = pos + 2
  end
  if n_perf > 0 then redis.call('ZREMRANGEBYRANK', index, 0, -131073) end  -- the newest 131,072 windows
  local n_joins = tonumber(ARGV[pos])
  pos = pos + 1
  for j = 1, n_joins do
    local key = KEYS[join_key + 4 + tonumber(ARGV[pos + 1])]
    local n_fields = tonumber(ARGV[pos + 3])
    if redis.call('HDEL', pending, ARGV[pos]) == 1 then
      redis.call('ZREM', due, ARGV[pos])
      redis.call('HINCRBY', counts, n_fields > 0 and 'joined' or 'not_comparable', 1)
      if ARGV[pos + 2] ~= '' then redis.call('HINCRBY', counts, 'lag:' .. ARGV[pos + 2], 1) end
      for i = 0, n_fields - 1 do
        local field, value = ARGV[pos + 4 + 2 * i], ARGV[pos + 5 + 2 * i]
        if string.find(value, '[.eEn]') then redis.call('HINCRBYFLOAT', key, field, value)
        else redis.call('HINCRBY', key, field, value) end
        if field == 'err' then redis.call('HINCRBY', counts, 'errors', value) end
      end
    end
    pos = pos + 4 + 2 * n_fields
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local pts = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1e308')
if tonumber(ARGV[4]) > pts then redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
return 1
