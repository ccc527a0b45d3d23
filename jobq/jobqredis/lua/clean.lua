-- clean: deletes up to ARGV[3] (0 = all) jobs of state ARGV[4] finished
-- (or created) at least ARGV[2] ms before ARGV[5]. Returns the ids.
local limit, state = tonumber(ARGV[3]) or 0, ARGV[4]
local cutoff = tonumber(ARGV[5]) - tonumber(ARGV[2])
local removed = {}
local function full() return limit > 0 and #removed >= limit end
local candidates
if state == "completed" or state == "failed" then
  local setKey = state == "completed" and kCompleted or kFailed
  if limit > 0 then
    candidates = rcall("ZRANGEBYSCORE", setKey, "-inf", cutoff, "LIMIT", 0, limit)
  else
    candidates = rcall("ZRANGEBYSCORE", setKey, "-inf", cutoff)
  end
elseif state == "waiting" or state == "wait" then
  candidates = rcall("LRANGE", kWait, 0, -1)
elseif state == "active" then
  candidates = rcall("LRANGE", kActive, 0, -1)
elseif state == "delayed" or state == "prioritized" or state == "waiting-children" then
  candidates = rcall("ZRANGE", prefix .. state, 0, -1)
else
  return {}
end
for _, id in ipairs(candidates) do
  if full() then break end
  local jk = prefix .. id
  local ts = tonumber(rcall("HGET", jk, (state == "completed" or state == "failed") and "finishedOn" or "timestamp")) or 0
  if (state == "completed" or state == "failed" or ts <= cutoff) and rcall("EXISTS", jk .. ":lock") == 0 then
    removeOne(string.sub(prefix, 1, #prefix - 1), id, false, true, true)
    removed[#removed + 1] = id
  end
end
emit("cleaned", "count", #removed)
return removed
