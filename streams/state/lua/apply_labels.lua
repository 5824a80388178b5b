-- KEYS: label watermarks, detector states, label counts, waiting labels, their due times, kept days,
--       performance index, then one performance hash per window, then one predictions hash per kept day looked in.
-- ARGV: partition, min offset, max offset, performance ttl, number of state fields, field, state, ...,
--       now, max waiting labels, number of performance windows, their ids, number of days, their ids,
--       number of joins, per join: prediction id, window position (1-based), day position (1-based),
--       lag bin or '', number of fields, field, increment, ...,
--       number of waiting labels, per label: prediction id, due time, value.
-- A join counts only when it removes its prediction from its day (a second label for one prediction is a
-- duplicate); a waiting label is refused (-3, re-plan) when its prediction is kept by now, or when a day
-- not looked in has appeared: the two crossed, and the re-planned batch joins them.
local wm = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if wm >= tonumber(ARGV[3]) then return 0 end
if wm >= tonumber(ARGV[2]) then return -1 end
local n_states = tonumber(ARGV[5])
local pos = 6 + 2 * n_states
local now = ARGV[pos]
local max_pending = tonumber(ARGV[pos + 1])
local n_perf = tonumber(ARGV[pos + 2])
local perf_at = pos + 3
pos = perf_at + n_perf
local n_days = tonumber(ARGV[pos])
local looked = {}
for d = 1, n_days do looked[ARGV[pos + d]] = true end
pos = pos + n_days + 1
local day_key = 7 + n_perf
local joins_at = pos
local n_joins = tonumber(ARGV[pos])
pos = pos + 1
for j = 1, n_joins do pos = pos + 5 + 2 * tonumber(ARGV[pos + 4]) end
local waiting_at = pos
local n_waiting = tonumber(ARGV[pos])
if n_waiting > 0 then
  for _, day in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], now, '+inf')) do
    if not looked[day] then return -3 end
  end
  for i = 0, n_waiting - 1 do
    local pid = ARGV[waiting_at + 1 + 3 * i]
    for d = 1, n_days do
      if redis.call('HEXISTS', KEYS[day_key + d], pid) == 1 then return -3 end
    end
  end
end
for i = 0, n_states - 1 do redis.call('HSET', KEYS[2], ARGV[6 + 2 * i], ARGV[7 + 2 * i]) end
for i = 0, n_perf - 1 do
  redis.call('ZADD', KEYS[7], 'NX', ARGV[perf_at + i], ARGV[perf_at + i])
end
pos = joins_at + 1
for j = 1, n_joins do
  local pid = ARGV[pos]
  local key = KEYS[7 + tonumber(ARGV[pos + 1])]
  local n_fields = tonumber(ARGV[pos + 4])
  if redis.call('HDEL', KEYS[day_key + tonumber(ARGV[pos + 2])], pid) == 1 then
    redis.call('HINCRBY', KEYS[3], n_fields > 0 and 'joined' or 'not_comparable', 1)
    if ARGV[pos + 3] ~= '' then redis.call('HINCRBY', KEYS[3], 'lag:' .. ARGV[pos + 3], 1) end
    for i = 0, n_fields - 1 do
      local field, value = ARGV[pos + 5 + 2 * i], ARGV[pos + 6 + 2 * i]
      if string.find(value, '[.eEn]') then redis.call('HINCRBYFLOAT', key, field, value)
      else redis.call('HINCRBY', key, field, value) end
      if field == 'err' then redis.call('HINCRBY', KEYS[3], 'errors', value) end
    end
    redis.call('EXPIRE', key, ARGV[4])
  else
    redis.call('HINCRBY', KEYS[3], 'duplicates', 1)
  end
  pos = pos + 5 + 2 * n_fields
end
pos = waiting_at + 1
local room = max_pending - redis.call('HLEN', KEYS[4])
for i = 1, n_waiting do
  if room <= 0 then
    redis.call('HINCRBY', KEYS[3], 'dropped', 1)
  elseif redis.call('HSETNX', KEYS[4], ARGV[pos], ARGV[pos + 2]) == 1 then
    redis.call('ZADD', KEYS[5], ARGV[pos + 1], ARGV[pos])
    room = room - 1
  else
    redis.call('HINCRBY', KEYS[3], 'duplicates', 1)
  end
  pos = pos + 3
end
if n_waiting > 0 then
  redis.call('EXPIRE', KEYS[4], ARGV[4])
  redis.call('EXPIRE', KEYS[5], ARGV[4])
end
local overdue = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. now, 'LIMIT', 0, 1000)
for _, pid in ipairs(overdue) do
  redis.call('HDEL', KEYS[4], pid)
  redis.call('ZREM', KEYS[5], pid)
end
if #overdue > 0 then redis.call('HINCRBY', KEYS[3], 'unmatched', #overdue) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
