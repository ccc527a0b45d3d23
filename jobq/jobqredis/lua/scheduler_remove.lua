-- scheduler_remove: deletes a scheduler and its pending job. ARGV: [2]
-- scheduler id. Returns 1 when the scheduler existed.
local sid = ARGV[2]
local prev = rcall("ZSCORE", kRepeat, sid)
local existed = rcall("DEL", prefix .. "repeat:" .. sid)
rcall("ZREM", kRepeat, sid)
if prev then
  local pid = "repeat:" .. sid .. ":" .. prev
  local st = stateOf(string.sub(prefix, 1, #prefix - 1), pid)
  if st == "delayed" or st == "waiting" or st == "prioritized" then removeOne(string.sub(prefix, 1, #prefix - 1), pid, false, true) end
end
if existed > 0 or prev then return 1 end
return 0
