-- scheduler_upsert: stores a job scheduler and replaces its pending job.
-- ARGV: [2] scheduler id, [3] next ms, [4] now, [5] n field pairs, then the
-- pairs, then the first job's 13 entries (see jobArgs).
local sid, nextMs = ARGV[2], tonumber(ARGV[3])
local sk = prefix .. "repeat:" .. sid
local qkey = string.sub(prefix, 1, #prefix - 1)
local prev = rcall("ZSCORE", kRepeat, sid)
if prev then
  local pid = "repeat:" .. sid .. ":" .. prev
  local st = stateOf(qkey, pid)
  if st == "delayed" or st == "waiting" or st == "prioritized" then removeOne(qkey, pid, false, true) end
end
local ic = rcall("HGET", sk, "ic") or 1
local n = tonumber(ARGV[5])
local fields = {}
for i = 6, 5 + 2 * n do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = "ic"
fields[#fields + 1] = ic
rcall("DEL", sk)
rcall("HSET", sk, unpack(fields))
rcall("ZADD", kRepeat, nextMs, sid)
local code, id = addJob(qkey, jobArgs(6 + 2 * n))
return {code, id}
