-- obliterate: deletes the queue in batches. ARGV: [2] "1" = force, [3]
-- batch size. Returns -2 when active jobs exist without force, 1 when
-- more work remains, 0 when the queue's known keys are gone.
if ARGV[2] ~= "1" and rcall("LLEN", kActive) > 0 then return -2 end
rcall("HSET", kMeta, "paused", 1)
local budget = tonumber(ARGV[3])
for _, k in ipairs({kWait, kActive}) do
  local ids = rcall("LRANGE", k, 0, budget - 1)
  for _, id in ipairs(ids) do removeJobKeys(prefix .. id) end
  if #ids > 0 then rcall("LTRIM", k, #ids, -1) end
  if #ids >= budget then return 1 end
end
for _, k in ipairs({kPrio, kDelayed, kCompleted, kFailed, kWaitChildren}) do
  local ids = rcall("ZRANGE", k, 0, budget - 1)
  for _, id in ipairs(ids) do removeJobKeys(prefix .. id) end
  if #ids > 0 then rcall("ZREMRANGEBYRANK", k, 0, #ids - 1) end
  if #ids >= budget then return 1 end
end
for _, sid in ipairs(rcall("ZRANGE", kRepeat, 0, -1)) do rcall("DEL", prefix .. "repeat:" .. sid) end
rcall("DEL", kMetricsCompleted .. ":data", kMetricsFailed .. ":data", prefix .. "paused")
rcall("DEL", unpack(KEYS))
return 0
