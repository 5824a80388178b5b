-- KEYS: close lease, alert states, latest, closed windows, open windows, window history, closed floor,
--       then the buckets no later window reads (they expire sooner: CLOSED_BUCKET_TTL_SECONDS in windows.py).
-- ARGV: lease token ('': unfenced), window id, closed ids kept, history length kept (0: none), history entry id,
--       number of alert states, of latest statistics, of history fields, then those fields and values,
--       then the closed buckets' TTL.
-- Returns 1 when closed, 0 when the lease is no longer this token's (nothing written), 2 when already closed.
-- The closed set keeps the newest ids only: at twice that many, the older ones go and the floor rises to
-- them (the apply script treats every window at or below the floor as closed), so the set stays small.
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 1 then return 2 end
local n_states, n_latest, n_history = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local pos = 9
for i = 0, n_states - 1 do redis.call('HSET', KEYS[2], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1]) end
pos = pos + 2 * n_states
for i = 0, n_latest - 1 do redis.call('HSET', KEYS[3], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1]) end
pos = pos + 2 * n_latest
if tonumber(ARGV[4]) > 0 then
  -- an id not above the stream's last one is a window already kept (a replay after a restore): skipped
  pcall(redis.call, 'XADD', KEYS[6], 'MAXLEN', '~', ARGV[4], ARGV[5], unpack(ARGV, pos, pos + n_history - 1))
end
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('SREM', KEYS[5], ARGV[2])
local keep = tonumber(ARGV[3])
if keep > 0 and redis.call('SCARD', KEYS[4]) >= 2 * keep then
  local limit = tonumber(ARGV[2]) - keep
  local floor = tonumber(redis.call('GET', KEYS[7]) or '-1e308')
  for _, w in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    local id = tonumber(w)
    if id <= limit then
      redis.call('SREM', KEYS[4], w)
      if id > floor then floor = id end
    end
  end
  redis.call('SET', KEYS[7], string.format('%d', floor))
end
for k = 8, #KEYS do redis.call('EXPIRE', KEYS[k], ARGV[#ARGV]) end
return 1
