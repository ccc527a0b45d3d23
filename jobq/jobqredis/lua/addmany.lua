-- addmany: stores n jobs of this queue in one call, each exactly as add
-- stores it (see addJob), in order. The queue's id counter is read once
-- and written once, its pause state and event-stream length read once,
-- consecutive pushes to wait go in one command, the "0" marker is set
-- once and the events stream trimmed once (by the call's first event, as
-- emitFast does). ARGV[2] is n, then 13 entries per job (see jobArgs)
-- from ARGV[3].
-- A job without parent or deduplication takes a lean path written out
-- here (the glue of a general add costs more Redis CPU than its
-- commands); any other job goes through addJob.
-- Returns 3 entries per job: code, id, dedupBy; or -100 and a message
-- when the job's own commands failed (the other jobs are unaffected).
local qkey = string.sub(prefix, 1, #prefix - 1)
local b = {counter = tonumber(rcall("GET", kId)) or 0, ids = {}, opts = {}}
local start = b.counter
local n = tonumber(ARGV[2])
local maxEv = maxEventsOf(kMeta)
local optsOf = b.opts
local trimmed = false

-- leanAdd stores the job whose arguments start at ARGV[a]: no parent,
-- no deduplication. It returns code, id.
local function leanAdd(a)
  local counter = b.counter + 1
  b.counter = counter
  local id = ARGV[a]
  local custom = id ~= ""
  -- "%d": tostring formats numbers as floats ("%.14g"), several times slower
  if not custom then id = string.format("%d", counter) end
  local jk = prefix .. id
  -- only a custom id can be a duplicate (see addJob)
  if custom and rcall("EXISTS", jk) == 1 then
    rcall("XADD", kEvents, "MAXLEN", "~", maxEv, "*", "event", "duplicated", "jobId", id)
    return 1, id
  end
  local raw = ARGV[a + 4]
  local c = optsOf[raw]
  local opts
  if c then
    opts = c[1]
  else
    local ok, o = pcall(cjson.decode, raw)
    if ok and type(o) == "table" then opts = cjson.encode(o) else opts, o = raw, nil end
    optsOf[raw] = {opts, o}
  end
  local name, ts, delay, prio, rjk = ARGV[a + 1], ARGV[a + 2], ARGV[a + 5], ARGV[a + 6], ARGV[a + 10]
  if rjk == "" then
    rcall("HSET", jk, "name", name, "data", ARGV[a + 3], "opts", opts, "timestamp", ts,
      "delay", delay, "priority", prio)
  else
    rcall("HSET", jk, "name", name, "data", ARGV[a + 3], "opts", opts, "timestamp", ts,
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
  if ARGV[a + 7] == "1" then push = "RPUSH" end
  batchEnqueue(b, id, tonumber(prio), push)
  rcall("XADD", kEvents, "*", "event", "waiting", "jobId", id)
  return 0, id
end

local out = {}
for i = 0, n - 1 do
  local a = 3 + i * 13
  local ok, code, id, by
  if ARGV[a + 8] == "" and ARGV[a + 11] == "" then
    ok, code, id = pcall(leanAdd, a)
    by = ""
  else
    ok, code, id, by = pcall(addJob, qkey, jobArgs(a), b)
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
if b.counter ~= start then rcall("SET", kId, b.counter) end
if #b.ids > 0 then rcall(b.push, kWait, unpack(b.ids)) end
if b.wake then rcall("ZADD", kMarker, "0", "0") end
return out
