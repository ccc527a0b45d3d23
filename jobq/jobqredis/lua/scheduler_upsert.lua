-- scheduler_upsert: stores a job scheduler and replaces its pending job.
-- ARGV: [2] scheduler id, [3] next ms, [4] now, [5] n field pairs, then the
-- pairs, then the first job's 13 entries (see jobArgs).
local sid, nextMs = ARGV[2], tonumber(ARGV[3])
local sk = prefix .. "repeat:" .. sid
local qkey = string.sub(prefix, 1, #prefix - 1)
local prev = tonumber(rcall("ZSCORE", kRepeat, sid))
local n = tonumber(ARGV[5])
local fields, nf = {}, {}
for i = 6, 5 + 2 * n, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  nf[ARGV[i]] = ARGV[i + 1]
end
local function nz(v) if v then return v end return "" end
local old = rcall("HMGET", sk, "every", "pattern", "tz")
local same = rcall("EXISTS", sk) == 1 and nz(old[1]) == nz(nf["every"]) and
  nz(old[2]) == nz(nf["pattern"]) and nz(old[3]) == nz(nf["tz"])
local j = jobArgs(6 + 2 * n)
local addFirst = true
if prev then
  -- the pending job of an unchanged schedule keeps its slot, so that
  -- concurrent upserts never create two jobs for one tick
  local pid = "repeat:" .. sid .. ":" .. string.format("%d", prev)
  local st = stateOf(qkey, pid)
  if st == "delayed" or st == "waiting" or st == "prioritized" then
    removeOne(qkey, pid, false, true)
    if same then
      j.id, nextMs = pid, prev
      j.delay = tostring(math.max(0, prev - tonumber(ARGV[4])))
      j.ts = ARGV[4]
    end
  elseif same and rcall("EXISTS", prefix .. pid) == 1 then
    addFirst, nextMs = false, prev
  end
end
local ic = rcall("HGET", sk, "ic") or 1
fields[#fields + 1] = "ic"
fields[#fields + 1] = ic
rcall("DEL", sk)
rcall("HSET", sk, unpack(fields))
rcall("ZADD", kRepeat, nextMs, sid)
if not addFirst then return {1, ""} end
local code, id = addJob(qkey, j)
return {code, id}
