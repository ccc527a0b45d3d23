-- scheduler_next: adds a scheduler's next job when the scheduler exists
-- and next is later than its stored next run. ARGV: [2] scheduler id,
-- [3] next ms, [4] now, [5..17] the job. Returns 1 when added, else 0.
local sid, nextMs = ARGV[2], tonumber(ARGV[3])
local sk = prefix .. "repeat:" .. sid
if rcall("EXISTS", sk) == 0 then return 0 end
local cur = tonumber(rcall("ZSCORE", kRepeat, sid))
if cur and nextMs <= cur then return 0 end
local j = jobArgs(5)
if rcall("EXISTS", prefix .. j.id) == 1 then return 0 end
rcall("ZADD", kRepeat, nextMs, sid)
rcall("HINCRBY", sk, "ic", 1)
local code = addJob(string.sub(prefix, 1, #prefix - 1), j)
if code == 0 then return 1 end
return 0
