-- finish: moves active jobs to completed or failed, then optionally
-- fetches, in one call. ARGV: [2] number of jobs n, [3] number of
-- profiles m, then m profiles of 5 entries from [4]: "completed"/"failed",
-- keep count ("" = unlimited), keep age s ("" = unlimited), "1" = retries
-- exhausted, metrics max points ("0" = off); then 7 entries per job: id,
-- token, now, return value JSON / failed reason, stacktrace JSON or "",
-- attempts made as fetched when the job has no parent and no
-- deduplication id (else ""), its profile's number (1-based); then at
-- f (after the jobs): "1" = fetch next, lock ms, worker, limiter max,
-- limiter duration, tokens...
-- Returns {{code per job}, fetch result or 0}; code 0 ok, -1 missing job,
-- -2/-6 lock, -3 not active, -4 pending children, -9 failed children.

-- Writes that no later step of this call reads are gathered and sent
-- once per call: the deleted keys (locks; a removed job's keys), the ids
-- leaving the stalled set and, for sets without a retention policy, the
-- ZADDs to completed/failed.
local dels, unstall, zadds = {}, {}, {}

-- zaddAll adds z's score-member pairs to setKey, 500 pairs a command.
local function zaddAll(setKey, z)
  for i = 1, #z, 1000 do
    rcall("ZADD", setKey, unpack(z, i, math.min(i + 999, #z)))
  end
end

local function flushDeferred()
  for i = 1, #dels, 1000 do
    rcall("DEL", unpack(dels, i, math.min(i + 999, #dels)))
  end
  dels = {}
  for i = 1, #unstall, 1000 do
    rcall("SREM", kStalled, unpack(unstall, i, math.min(i + 999, #unstall)))
  end
  unstall = {}
  for setKey, z in pairs(zadds) do zaddAll(setKey, z) end
  zadds = {}
end

local function finishOne(id, token, now, target, value, st, keepCount, keepAge, exhausted, mp, plain)
  local jk = prefix .. id
  -- the job's parentKey, parent, deduplication id and attempts made
  local pk, par, deid, atmPrev
  local bare = false -- the job's hash is its only key (besides the lock)
  if plain ~= "" then
    -- the worker fetched the job: no parent, no deduplication id, and its
    -- attempts made; one EXISTS tells whether it exists and has children
    -- (and, when it is to be removed, whether it has other keys at all)
    local c
    if keepCount == 0 then
      c = rcall("EXISTS", jk, jk .. ":dependencies", jk .. ":unsuccessful", jk .. ":logs",
        jk .. ":processed", jk .. ":failed")
      bare = c == 1
    else
      c = rcall("EXISTS", jk, jk .. ":dependencies", jk .. ":unsuccessful")
    end
    if c == 0 then return -1 end
    if c > 1 and target == "completed" then
      if rcall("SCARD", jk .. ":dependencies") > 0 then return -4 end
      if rcall("ZCARD", jk .. ":unsuccessful") > 0 then return -9 end
    end
    atmPrev = plain
  else
    -- every stored job has a name field; EXISTS only tells an odd hash apart
    local a = rcall("HMGET", jk, "parentKey", "parent", "deid", "name", "atm")
    if not a[4] and rcall("EXISTS", jk) == 0 then return -1 end
    pk, par, deid, atmPrev = a[1], a[2], a[3], a[5]
    if target == "completed" and rcall("EXISTS", jk .. ":dependencies", jk .. ":unsuccessful") > 0 then
      if rcall("SCARD", jk .. ":dependencies") > 0 then return -4 end
      if rcall("ZCARD", jk .. ":unsuccessful") > 0 then return -9 end
    end
  end
  local lk = jk .. ":lock"
  local cur = rcall("GET", lk)
  if cur ~= token then
    if cur then return -6 end
    return -2
  end
  -- the lock goes and the job leaves stalled (at the end of this call)
  dels[#dels + 1] = lk
  unstall[#unstall + 1] = id
  if rcall("LREM", kActive, "-1", id) == 0 then return -3 end
  if deid then
    local dk = prefix .. "de:" .. deid
    local ttl = rcall("PTTL", dk)
    if ttl == 0 or (ttl == -1 and rcall("GET", dk) == id) then rcall("DEL", dk) end
    flushDeferred()
    requeueDedupNext(deid, now)
  end
  if pk then
    if target == "completed" then
      if rcall("SREM", pk .. ":dependencies", jk) == 1 then
        rcall("HSET", pk .. ":processed", jk, value)
        releaseParentIfReady(pk, now)
      end
    elseif par then
      failChild(par, jk, value, now)
    end
  end
  local setKey = kCompleted
  local field = "returnvalue"
  if target == "failed" then setKey, field = kFailed, "failedReason" end
  local atm
  if keepCount == 0 then
    if target == "failed" and exhausted == "1" then atm = rcall("HINCRBY", jk, "atm", 1) end
    dels[#dels + 1] = jk
    if not bare then
      dels[#dels + 1] = jk .. ":logs"
      dels[#dels + 1] = jk .. ":dependencies"
      dels[#dels + 1] = jk .. ":processed"
      dels[#dels + 1] = jk .. ":failed"
      dels[#dels + 1] = jk .. ":unsuccessful"
    end
    if pk and rcall("SREM", pk .. ":dependencies", jk) == 1 then releaseParentIfReady(pk, now) end
  else
    atm = string.format("%d", (tonumber(atmPrev) or 0) + 1)
    if target == "failed" then
      if st ~= "" then
        rcall("HSET", jk, "atm", atm, field, value, "finishedOn", now, "stacktrace", st)
      else
        rcall("HSET", jk, "atm", atm, field, value, "finishedOn", now)
      end
      rcall("HDEL", jk, "defa")
    else
      rcall("HSET", jk, "atm", atm, field, value, "finishedOn", now)
    end
    if keepCount == nil and keepAge == nil then
      local z = zadds[setKey]
      if not z then
        z = {}
        zadds[setKey] = z
      end
      z[#z + 1] = now
      z[#z + 1] = id
    else
      -- a policy trims the set as it is after this job: earlier jobs of
      -- this call go in first
      local z = zadds[setKey]
      if z then
        zadds[setKey] = nil
        zaddAll(setKey, z)
      end
      rcall("ZADD", setKey, now, id)
      trimFinished(setKey, now, keepCount, keepAge)
    end
  end
  emitFast(target, "jobId", id, field, value, "prev", "active")
  if target == "failed" and exhausted == "1" then
    emit("retries-exhausted", "jobId", id, "attemptsMade", atm)
  end
  if mp > 0 then
    local mk = kMetricsCompleted
    if target == "failed" then mk = kMetricsFailed end
    collectMetrics(mk, mp, now)
  end
  return 0
end

-- the meta once, for the fetch and the events' bound
local meta = readMeta()
local n = tonumber(ARGV[2])
local profs = {}
local jb = 4 + tonumber(ARGV[3]) * 5 -- the first job's entries
for p = 4, jb - 1, 5 do
  profs[#profs + 1] = {ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), ARGV[p + 3], tonumber(ARGV[p + 4]) or 0}
end
local codes = {}
local anyOK = false
local now = "0"
for i = 0, n - 1 do
  local b = jb + i * 7
  now = ARGV[b + 2]
  local p = profs[tonumber(ARGV[b + 6])]
  local code = finishOne(ARGV[b], ARGV[b + 1], now, p[1], ARGV[b + 3], ARGV[b + 4],
    p[2], p[3], p[4], p[5], ARGV[b + 5])
  codes[i + 1] = code
  if code == 0 then anyOK = true end
end
flushDeferred()
local f = jb + n * 7
local fetched = 0
local got = 0
if ARGV[f] == "1" then
  local tokens = {}
  for i = f + 5, #ARGV do tokens[#tokens + 1] = ARGV[i] end
  fetched = fetchMany(now, tokens, ARGV[f + 1], ARGV[f + 2], tonumber(ARGV[f + 3]), tonumber(ARGV[f + 4]), meta)
  got = #fetched[1]
end
-- "drained" as BullMQ 6.7's finish with fetch-next (which its workers ask
-- for unless closing): a job fetched just now is active, so the queue
-- cannot be drained; a rate limit, a pause, a reached global concurrency
-- or a pending delayed job also hold it back. A finish without fetch is
-- treated the same, since a jobq worker asks for no job when it is full.
if anyOK and got == 0 and rcall("LLEN", kWait) == 0 and rcall("LLEN", kActive) == 0 and rcall("ZCARD", kPrio) == 0 then
  local held
  if fetched ~= 0 then
    held = fetched[2] > 0 or fetched[4] == 1 or fetched[3] ~= "0"
  else
    held = rcall("ZCARD", kDelayed) > 0
  end
  if not held then
    local m = meta
    local conc = tonumber(m[2])
    held = m[1] ~= false or (conc ~= nil and conc <= 0)
  end
  if not held then emit("drained") end
end
return {codes, fetched}
