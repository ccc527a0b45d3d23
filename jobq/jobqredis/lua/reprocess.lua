-- reprocess: moves finished jobs back to wait with attempts, result and
-- failure reset. ARGV: [2] id ("" = many), [3] state, [4] max count
-- (0 = all), [5] now. Returns the number moved, -1 (missing) or -3.
local state, qkey = ARGV[3], string.sub(prefix, 1, #prefix - 1)
local setKey = kFailed
if state == "completed" then setKey = kCompleted end
local function back(id)
  local jk = prefix .. id
  rcall("ZREM", setKey, id)
  rcall("HDEL", jk, "finishedOn", "processedOn", "returnvalue", "failedReason", "stacktrace", "defa")
  rcall("HSET", jk, "atm", 0, "ats", 0, "stc", 0)
  local lifo = string.find(rcall("HGET", jk, "opts") or "", '"lifo":true', 1, true)
  enqueueIn(qkey, id, tonumber(rcall("HGET", jk, "priority")) or 0, lifo and "RPUSH" or "LPUSH")
  emit("waiting", "jobId", id, "prev", state)
end
if ARGV[2] ~= "" then
  if rcall("EXISTS", prefix .. ARGV[2]) == 0 then return -1 end
  if not rcall("ZSCORE", setKey, ARGV[2]) then return -3 end
  back(ARGV[2])
  return 1
end
local n = tonumber(ARGV[4]) or 0
local ids = rcall("ZRANGE", setKey, 0, n > 0 and n - 1 or -1)
for _, id in ipairs(ids) do back(id) end
return #ids
