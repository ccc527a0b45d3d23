-- addmany: stores n jobs of this queue in one call, each exactly as add
-- stores it (see addJob), in order. The queue's id counter is read once
-- and written once, its pause state and event-stream length read once,
-- consecutive pushes to wait go in one command, the "0" marker is set
-- once and the events stream trimmed once (by the call's first event, as
-- emitFast does).
-- ARGV: [2] n, [3] number of profiles m, then m profiles of 6 entries
-- from [4]: name, opts JSON, delay, priority, "1" = LIFO, repeat job key;
-- then one record per job: a job without parent or deduplication is 4
-- entries, its profile's number (1-based), id ("" = from the counter),
-- timestamp, data; any other job is "0" and its 13 entries (see
-- jobArgs). A profile holds what the jobs of a batch usually share, so
-- each is sent and decoded once per call.
-- A lean job (profile record) takes a path written out here (the glue of
-- a general add costs more Redis CPU than its commands); any other job
-- goes through addJob.
-- Returns 3 entries per job: code, id, dedupBy; or -100 and a message
-- when the job's own commands failed (the other jobs are unaffected).
local qkey = string.sub(prefix, 1, #prefix - 1)
local b = {counter = tonumber(rcall("GET", kId)) or 0, ids = {}, opts = {}}
local start = b.counter
local n = tonumber(ARGV[2])
local maxEv = maxEventsOf(kMeta)
local optsOf = b.opts
local trimmed = false

-- the profiles; each one's opts are normalised once (cjson, as addJob)
local profs = {}
local jb = 4 + tonumber(ARGV[3]) * 6 -- the first job's record
for p = 4, jb - 1, 6 do
  local raw, opts = ARGV[p + 1], nil
  local c = optsOf[raw]
  if c then
    opts = c[1]
  else
    local ok, o = pcall(cjson.decode, raw)
    if ok and type(o) == "table" then opts = cjson.encode(o) else opts, o = raw, nil end
    optsOf[raw] = {opts, o}
  end
  profs[#profs + 1] = {ARGV[p], opts, ARGV[p + 2], ARGV[p + 3], ARGV[p + 4] == "1", ARGV[p + 5]}
end

-- leanAdd stores a job without parent or deduplication of profile pr.
-- It returns code, id.
local function leanAdd(pr, id, ts, data)
  local counter = b.counter + 1
  b.counter = counter
  local custom = id ~= ""
  -- "%d": tostring formats numbers as floats ("%.14g"), several times slower
  if not custom then id = string.format("%d", counter) end
  local jk = prefix .. id
  -- only a custom id can be a duplicate (see addJob)
  if custom and rcall("EXISTS", jk) == 1 then
    rcall("XADD", kEvents, "MAXLEN", "~", maxEv, "*", "event", "duplicated", "jobId", id)
    return 1, id
  end
  local name, opts, delay, prio, rjk = pr[1], pr[2], pr[3], pr[4], pr[6]
  if rjk == "" then
    rcall("HSET", jk, "name", name, "data", data, "opts", opts, "timestamp", ts,
      "delay", delay, "priority", prio)
  else
    rcall("HSET", jk, "name", name, "data", data, "opts", opts, "timestamp", ts,
      "delay", delay, "priority", prio, "rjk", rjk)
  end
  if trimmed then
    rcall("XADD", kEvents, "*", "event", "added", "jobId", id, "name", name)
  else
    rcall("XADD", kEvents, "MAXLEN", "~", maxEv, "*", "event", "added", "jobId", id, "name", name)
    trimmed = true
  end
  if delay ~= "0" and tonumber(delay) > 0 then
    delayIn(qkey, id, tonumber(ts) + tonumber(delay))
    return 0, id
  end
  local push = "LPUSH"
  if pr[5] then push = "RPUSH" end
  batchEnqueue(b, id, tonumber(prio), push)
  rcall("XADD", kEvents, "*", "event", "waiting", "jobId", id)
  return 0, id
end

local out = {}
local a = jb
for i = 0, n - 1 do
  local ok, code, id, by
  local p = ARGV[a]
  if p ~= "0" then
    ok, code, id = pcall(leanAdd, profs[tonumber(p)], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
    by = ""
    a = a + 4
  else
    ok, code, id, by = pcall(addJob, qkey, jobArgs(a + 1), b)
    a = a + 14
  end
  local o = i * 3
  if ok then
    out[o + 1], out[o + 2], out[o + 3] = code, id, by
  else
    if type(code) == "table" then code = code.err end
    out[o + 1], out[o + 2], out[o + 3] = -100, tostring(code), ""
  end
end
-- the counter first: SET cannot fail on a key of another type, so the ids
-- handed out are never handed out again, whatever follows
if b.counter ~= start then rcall("SET", kId, string.format("%d", b.counter)) end
if #b.ids > 0 then rcall(b.push, kWait, unpack(b.ids)) end
if b.wake then rcall("ZADD", kMarker, "0", "0") end
return out
