-- Checks one event against every rule and records it, in every rule, only
-- when every rule allows it. Each rule is a sliding window log: a sorted set
-- whose scores are event times in milliseconds from this server's clock.
--
-- KEYS[i]      the sorted set of rule i (all in one hash slot)
-- ARGV[1]      a member unique to this call
-- ARGV[2i]     the limit of rule i (>= 1)
-- ARGV[2i+1]   the window of rule i in milliseconds (>= 1)
--
-- Returns {1, 0, 0} when allowed, else {0, i, wait}: rule i refuses and,
-- of all refusing rules, needs the longest wait (ms) before one more event
-- fits.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local refusing, longest = 0, 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n >= limit then
    -- one more event fits once the oldest of the newest `limit` events
    -- leaves the window
    local edge = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    local wait = math.max(tonumber(edge[2]) + window - now, 1)
    if wait > longest then
      refusing, longest = i, wait
    end
  end
end
if refusing > 0 then
  return {0, refusing, longest}
end

for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i + 1])
  -- allowed: the set held fewer than `limit` members, now at most `limit`
  redis.call('ZADD', key, now, ARGV[1])
  -- the set is useless once its newest event leaves the window
  redis.call('PEXPIRE', key, window)
end
return {1, 0, 0}
