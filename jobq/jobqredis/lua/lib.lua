-- lib.lua: helpers shared by every jobqredis script. It is prepended to
-- each operation's script at load time, so every script sees the same
-- queue key set in KEYS and the queue's key prefix ("bull:Q:") in ARGV[1].
-- Written for jobqredis from the BullMQ 6.7.0 layout facts (clean room).
-- Arguments to redis.call on hot paths are strings ("-1", not -1): a Lua
-- number argument is formatted as a float through printf on every call.
local rcall = redis.call

local kWait, kActive, kPrio, kDelayed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local kCompleted, kFailed, kWaitChildren = KEYS[5], KEYS[6], KEYS[7]
local kMarker, kMeta, kId, kEvents = KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local kStalled, kStalledCheck, kLimiter, kPc = KEYS[12], KEYS[13], KEYS[14], KEYS[15]
local kRepeat, kMetricsCompleted, kMetricsFailed = KEYS[16], KEYS[17], KEYS[18]
local prefix = ARGV[1]

local DELAY_SHIFT = 0x1000
-- A fetch asking for this many jobs or more returns 0 in place of each
-- job's fields, and the worker reads the hashes with HGETALL in one
-- pipeline after the call: a hash read inside a script costs Redis twice
-- (its fields become Lua strings, then a reply again), which made up
-- about a sixth of a job's Redis CPU in burn-down. A smaller fetch keeps
-- the fields in its reply, which saves the worker a round trip.
local LAZY_READ_MIN = 8
local PRIO_SHIFT = 0x100000000

-- Queue key helpers for a queue given by its "<prefix>:<queue>" key; used
-- for parents that may live in another queue (same hash tag required on
-- Redis Cluster).
local function qk(queueKey, suffix) return queueKey .. ":" .. suffix end

local maxEventsCache = {}
local function maxEventsOf(metaKey)
  local m = maxEventsCache[metaKey]
  if m then return m end
  m = rcall("HGET", metaKey, "opts.maxLenEvents")
  if not m then
    m = 10000
    rcall("HSET", metaKey, "opts.maxLenEvents", m)
  end
  maxEventsCache[metaKey] = m
  return m
end

-- emitTo appends an event to a queue's stream (queueKey without trailing colon).
local function emitTo(queueKey, name, ...)
  rcall("XADD", qk(queueKey, "events"), "MAXLEN", "~", maxEventsOf(qk(queueKey, "meta")),
    "*", "event", name, ...)
end

local function emit(name, ...)
  rcall("XADD", kEvents, "MAXLEN", "~", maxEventsOf(kMeta), "*", "event", name, ...)
end

-- evTrimmed records that emitFast trimmed the stream in this call.
local evTrimmed = false

-- emitFast appends an event to this queue's stream, trimming it (as emit
-- does) only on the call's first event: a script that emits one event
-- per job (fetch, finish) trims once, so the stream exceeds its
-- approximate bound by at most one call's events until the next call.
local function emitFast(name, ...)
  if evTrimmed then
    rcall("XADD", kEvents, "*", "event", name, ...)
  else
    rcall("XADD", kEvents, "MAXLEN", "~", maxEventsOf(kMeta), "*", "event", name, ...)
    evTrimmed = true
  end
end

local function pausedOrMaxedOf(metaKey, activeKey)
  local a = rcall("HMGET", metaKey, "paused", "concurrency")
  if a[1] then return true end
  if a[2] then return rcall("LLEN", activeKey) >= tonumber(a[2]) end
  return false
end

-- delayedScoreIn returns the delayed zset score for a job due at dueMs: the
-- due time shifted by 12 bits plus a per-millisecond sequence.
local function delayedScoreIn(delayedKey, dueMs)
  local lo = dueMs * DELAY_SHIFT
  local hi = (dueMs + 1) * DELAY_SHIFT - 1
  local top = rcall("ZREVRANGEBYSCORE", delayedKey, hi, lo, "WITHSCORES", "LIMIT", 0, 1)
  if top[2] then
    local s = tonumber(top[2])
    if s >= hi then return hi end
    return s + 1
  end
  return lo
end

local function nextDelayedOf(delayedKey)
  local r = rcall("ZRANGE", delayedKey, "0", "0", "WITHSCORES")
  if r[2] then return tonumber(r[2]) / DELAY_SHIFT end
  return nil
end

local function delayMarkerIn(markerKey, delayedKey)
  local n = nextDelayedOf(delayedKey)
  if n then rcall("ZADD", markerKey, n, "1") end
end

-- enqueueIn routes a ready job of the queue at queueKey to wait or
-- prioritized and wakes workers unless the queue is paused or maxed.
local function enqueueIn(queueKey, jobId, priority, pushCmd)
  local blocked = pausedOrMaxedOf(qk(queueKey, "meta"), qk(queueKey, "active"))
  if priority > 0 then
    local c = rcall("INCR", qk(queueKey, "pc"))
    rcall("ZADD", qk(queueKey, "prioritized"), priority * PRIO_SHIFT + c % PRIO_SHIFT, jobId)
  else
    rcall(pushCmd, qk(queueKey, "wait"), jobId)
  end
  if not blocked then rcall("ZADD", qk(queueKey, "marker"), 0, "0") end
end

-- delayIn puts a job of the queue at queueKey in delayed until dueMs.
local function delayIn(queueKey, jobId, dueMs)
  local dk = qk(queueKey, "delayed")
  rcall("ZADD", dk, delayedScoreIn(dk, dueMs), jobId)
  emitTo(queueKey, "delayed", "jobId", jobId, "delay", dueMs)
  delayMarkerIn(qk(queueKey, "marker"), dk)
end

local function removeJobKeys(jobKey)
  rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies", jobKey .. ":processed",
    jobKey .. ":failed", jobKey .. ":unsuccessful", jobKey .. ":lock")
end

-- basePrefix is the driver's key prefix ("bull" of "bull:Q:"); queue
-- names contain no colon.
local basePrefix = string.match(prefix, "^(.*):[^:]*:$") or ""

-- splitJobKey splits "<basePrefix>:<queue>:<id>" after the queue name, as
-- ids may contain colons; a key under another prefix splits at its last
-- colon.
local function splitJobKey(jobKey)
  local bp = basePrefix .. ":"
  if basePrefix ~= "" and string.sub(jobKey, 1, #bp) == bp then
    local q, id = string.match(string.sub(jobKey, #bp + 1), "^([^:]+):(.+)$")
    if q then return bp .. q, id end
  end
  local id = string.match(jobKey, ".*:(.*)")
  return string.sub(jobKey, 1, #jobKey - #id - 1), id
end

-- releaseParent moves a parent out of waiting-children when it has no
-- pending dependencies left: to delayed when it was added with a delay,
-- else to wait/prioritized.
local function releaseParentIfReady(parentKey, now)
  if rcall("SCARD", parentKey .. ":dependencies") > 0 then return end
  if rcall("EXISTS", parentKey) == 0 then return end
  local pq, pid = splitJobKey(parentKey)
  if rcall("ZREM", qk(pq, "waiting-children"), pid) == 0 then return end
  local a = rcall("HMGET", parentKey, "priority", "delay")
  local delay = tonumber(a[2]) or 0
  if delay > 0 then
    delayIn(pq, pid, tonumber(now) + delay)
  else
    enqueueIn(pq, pid, tonumber(a[1]) or 0, "RPUSH")
    emitTo(pq, "waiting", "jobId", pid, "prev", "waiting-children")
  end
end

-- promoteDue moves due delayed jobs (at most 1000) to wait/prioritized.
local function promoteDue(now)
  local ids = rcall("ZRANGEBYSCORE", kDelayed, 0, (tonumber(now) + 1) * DELAY_SHIFT - 1, "LIMIT", 0, 1000)
  if #ids == 0 then return end
  rcall("ZREM", kDelayed, unpack(ids))
  local qkey = string.sub(prefix, 1, #prefix - 1)
  for _, id in ipairs(ids) do
    local jk = prefix .. id
    enqueueIn(qkey, id, tonumber(rcall("HGET", jk, "priority")) or 0, "LPUSH")
    rcall("HSET", jk, "delay", 0)
    emit("waiting", "jobId", id, "prev", "delayed")
  end
end

-- removeLockChecked deletes the job's lock when token owns it. It returns
-- 0, or -2 (no lock) / -6 (another token).
local function removeLockChecked(jobKey, jobId, token)
  local cur = rcall("GET", jobKey .. ":lock")
  if cur == token then
    rcall("DEL", jobKey .. ":lock")
    rcall("SREM", kStalled, jobId)
    return 0
  end
  if cur then return -6 end
  return -2
end

-- readMeta reads the fields of the queue's meta a fetch needs, and
-- primes the event bound for emit and emitFast.
local function readMeta()
  local meta = rcall("HMGET", kMeta, "paused", "concurrency", "max", "duration", "opts.maxLenEvents")
  if meta[5] then maxEventsCache[kMeta] = meta[5] end
  return meta
end

-- fetchMany activates up to #tokens ready jobs after promoting due delayed
-- ones, locking each with its token. The queue's meta is read once (meta,
-- when the caller read it already with readMeta); the limiter key is read
-- before each job while a limit may apply (a manual rate limit stores
-- 2^53-1 and applies without a configured max).
-- It returns {{{id, fields or 0, token}...}, limiterTTL, nextDelayed,
-- paused}; fields are 0 when #tokens >= LAZY_READ_MIN.
local function fetchMany(now, tokens, lockMs, worker, limMax, limDur, meta)
  -- the first delayed job tells whether any is due; when none is, it is
  -- also the next delayed time reported below
  local first = rcall("ZRANGE", kDelayed, "0", "0", "WITHSCORES")
  local nd, ndKnown = nil, true
  if first[2] then
    if tonumber(first[2]) <= (tonumber(now) + 1) * DELAY_SHIFT - 1 then
      promoteDue(now)
      ndKnown = false
    else
      nd = tonumber(first[2]) / DELAY_SHIFT
    end
  end
  meta = meta or readMeta()
  local maxJobs = tonumber(meta[3]) or limMax
  local dur = tonumber(meta[4]) or limDur
  local limited = maxJobs and maxJobs > 0
  local conc = tonumber(meta[2])
  local checkLimiter = true
  local jobs = {}
  local ttl = 0
  local empty = false -- wait and prioritized ran out
  local lazy = #tokens >= LAZY_READ_MIN
  local pre, preI -- ids taken from wait in one go, in pop order; the next
  local waitLeft -- after taking pre: whether wait holds more (nil: unknown)
  for i = 1, #tokens do
    if checkLimiter then
      local used = tonumber(rcall("GET", kLimiter))
      if used and ((limited and maxJobs <= used) or used >= 9007199254740991) then
        local t = rcall("PTTL", kLimiter)
        if t > 0 then ttl = t break end
        if t == 0 or t == -1 then rcall("DEL", kLimiter) end
      end
      -- without a max nothing below sets the key: no need to read it again
      if not used and not limited then checkLimiter = false end
    end
    if meta[1] then break end
    if conc and rcall("LLEN", kActive) >= conc then break end
    local id
    if pre or (not checkLimiter and not conc and #tokens - i >= 1) then
      -- nothing limits this fetch of two or more: take from wait at once
      -- what the tokens left ask for, as that many RPOPLPUSHes would (same
      -- order in active), in three commands; reading one more than that
      -- tells whether wait still holds jobs afterwards
      if not pre then
        local want = #tokens - i + 1
        local got = rcall("LRANGE", kWait, -(want + 1), -1)
        local from = 1
        if #got > want then
          from, waitLeft = 2, true
        else
          waitLeft = false
        end
        pre, preI = {}, 0
        for k = #got, from, -1 do pre[#pre + 1] = got[k] end
        if #pre > 0 then
          rcall("LTRIM", kWait, 0, -(#pre + 1))
          for k = 1, #pre, 1000 do
            rcall("LPUSH", kActive, unpack(pre, k, math.min(k + 999, #pre)))
          end
        end
      end
      preI = preI + 1
      id = pre[preI]
    else
      id = rcall("RPOPLPUSH", kWait, kActive)
    end
    if not id then
      local p = rcall("ZPOPMIN", kPrio)
      if not p[1] then
        rcall("DEL", kPc)
        empty = true
        break
      end
      id = p[1]
      rcall("LPUSH", kActive, id)
    end
    local jk = prefix .. id
    if limited and rcall("HEXISTS", jk, "defa") == 0 then
      if rcall("INCR", kLimiter) == 1 and dur then
        rcall("PEXPIRE", kLimiter, math.floor(math.abs(dur)))
      end
    end
    rcall("SET", jk .. ":lock", tokens[i], "PX", lockMs)
    local h
    if lazy then
      -- the worker reads the hash after this call (see LAZY_READ_MIN)
      local ats = string.format("%d", (tonumber(rcall("HGET", jk, "ats")) or 0) + 1)
      if worker ~= "" then
        rcall("HSET", jk, "processedOn", now, "pb", worker, "ats", ats)
      else
        rcall("HSET", jk, "processedOn", now, "ats", ats)
      end
      h = 0
    else
      -- read the job, then set processedOn, pb and ats (one more) in one
      -- HSET, and return the fields as they now are
      h = rcall("HGETALL", jk)
      local ats, iAts, iPo, iPb = 0, nil, nil, nil
      for k = 1, #h, 2 do
        local f = h[k]
        if f == "ats" then
          iAts, ats = k + 1, tonumber(h[k + 1]) or 0
        elseif f == "processedOn" then
          iPo = k + 1
        elseif f == "pb" then
          iPb = k + 1
        end
      end
      -- a string made once: a number argument would be formatted by
      -- redis.call as a float, and again by tostring
      ats = string.format("%d", ats + 1)
      if worker ~= "" then
        rcall("HSET", jk, "processedOn", now, "pb", worker, "ats", ats)
        if iPb then h[iPb] = worker else h[#h + 1] = "pb"; h[#h + 1] = worker end
      else
        rcall("HSET", jk, "processedOn", now, "ats", ats)
      end
      if iPo then h[iPo] = now else h[#h + 1] = "processedOn"; h[#h + 1] = now end
      if iAts then h[iAts] = ats else h[#h + 1] = "ats"; h[#h + 1] = ats end
    end
    emitFast("active", "jobId", id, "prev", "waiting")
    jobs[#jobs + 1] = {id, h, tokens[i]}
  end
  -- A fetch that took jobs wakes another worker only when ready jobs
  -- remain (BullMQ 6.7 re-adds the "0" marker after every activation, and
  -- keeps the one its promotion of due jobs set, which makes an idle worker
  -- run a fetch for nothing); else it clears the "0" marker and hands the
  -- next delayed time to an idle worker (a "1" marker), as this worker is
  -- now busy: one idle worker then arms a timer for it.
  if not ndKnown then nd = nextDelayedOf(kDelayed) end
  if #jobs > 0 then
    local more = waitLeft
    if more == nil then more = rcall("LLEN", kWait) > 0 end
    if not empty and (more or rcall("ZCARD", kPrio) > 0) then
      rcall("ZADD", kMarker, "0", "0")
    else
      rcall("ZREM", kMarker, "0")
      if nd then rcall("ZADD", kMarker, nd, "1") end
    end
  end
  local paused = 0
  if meta[1] then paused = 1 end
  return {jobs, ttl, nd and tostring(nd) or "0", paused}
end

-- registerChild records a child job with its parent: as processed when it
-- already completed, else as a pending dependency.
local function registerChild(parentKey, childKey, now, defer)
  if parentKey == "" then return end
  local cq, cid = splitJobKey(childKey)
  if rcall("ZSCORE", qk(cq, "completed"), cid) then
    rcall("HSET", parentKey .. ":processed", childKey, rcall("HGET", childKey, "returnvalue") or "null")
    if not defer then releaseParentIfReady(parentKey, now) end
  else
    rcall("SADD", parentKey .. ":dependencies", childKey)
  end
end

-- addBatch is the state of one addmany call (nil otherwise): the queue's
-- id counter, pause state and wait-list pushes are read and written once
-- per call instead of once per job (see addmany.lua). Fields: counter,
-- blocked (nil until read), push ("LPUSH"/"RPUSH" of the pending ids),
-- ids (pending pushes, in order), wake (the "0" marker is due), opts
-- (cjson encodings by opts string).
local function batchPush(b, id, pushCmd)
  if b.push ~= pushCmd or #b.ids >= 1000 then
    if #b.ids > 0 then rcall(b.push, kWait, unpack(b.ids)) end
    b.push, b.ids = pushCmd, {}
  end
  b.ids[#b.ids + 1] = id
end

-- batchEnqueue is enqueueIn for a job of this script's queue inside an
-- addmany call: the same lists, the same order, fewer commands.
local function batchEnqueue(b, jobId, priority, pushCmd)
  if b.blocked == nil then b.blocked = pausedOrMaxedOf(kMeta, kActive) end
  if priority > 0 then
    local c = rcall("INCR", kPc)
    rcall("ZADD", kPrio, priority * PRIO_SHIFT + c % PRIO_SHIFT, jobId)
  else
    batchPush(b, jobId, pushCmd)
  end
  if not b.blocked then b.wake = true end
end

-- addJob stores one job of the queue at qkey and routes it. j holds:
-- id, name, ts, data, opts, delay, priority, lifo, parentKey, parent, rjk,
-- deid, dettl, waitChildren. b is the addmany state (see batchPush) or
-- nil. It returns code, id, dedupBy where code is 0 (added), 1 (duplicate
-- id), 2 (deduplicated) or -5 (parent missing).
local function addJob(qkey, j, b)
  local pfx = qkey .. ":"
  if j.parentKey ~= "" and rcall("EXISTS", j.parentKey) == 0 then return -5, "", "" end
  local counter
  if b then
    b.counter = b.counter + 1
    counter = b.counter
  else
    counter = rcall("INCR", qk(qkey, "id"))
  end
  -- opts is stored as Redis's cjson encodes it, as BullMQ's add does (key
  -- order, number form, "\/"), so equal options give equal bytes
  -- (j.optsTable, when given, is opts decoded already: encoding twice could
  -- change the order); an addmany call encodes each distinct opts once
  local okj, o = true, j.optsTable
  local cached = b and not o and b.opts[j.opts]
  if cached then
    j.opts, o = cached[1], cached[2]
  else
    local raw = j.opts
    if not o then okj, o = pcall(cjson.decode, j.opts) end
    if okj and type(o) == "table" then j.opts = cjson.encode(o) else o = nil end
    if b and not j.optsTable then b.opts[raw] = {j.opts, o} end
  end
  local id = j.id
  if id == "" then id = string.format("%d", counter) end
  local jk = pfx .. id
  -- only a custom id can be a duplicate: a counter id is new (an integer
  -- custom id is refused), and BullMQ 6.7 does not look either
  if j.id ~= "" and rcall("EXISTS", jk) == 1 then
    if j.parentKey ~= "" then registerChild(j.parentKey, jk, j.ts, j.inFlow) end
    emitTo(qkey, "duplicated", "jobId", id)
    return 1, id, ""
  end
  if j.deid ~= "" then
    local dk = pfx .. "de:" .. j.deid
    local function setKey(owner)
      if j.dettl > 0 then rcall("SET", dk, owner, "PX", j.dettl) else rcall("SET", dk, owner) end
    end
    -- the modes (BullMQ's extend and replace) are read from opts.de
    local ext, rep = false, false
    if o and type(o["de"]) == "table" then
      ext, rep = o["de"]["extend"] == true, o["de"]["replace"] == true
    end
    local cur = rcall("GET", dk)
    if cur and rcall("PTTL", dk) == -1 and rcall("EXISTS", pfx .. cur) == 0 then
      -- stale key: its job is gone; start a new window with this job
      setKey(id)
    elseif rep then
      if not cur then
        setKey(id)
      elseif rcall("ZREM", qk(qkey, "delayed"), cur) > 0 then
        -- debounce: the delayed holder gives way to this add
        removeJobKeys(pfx .. cur)
        rcall("DEL", pfx .. "dn:" .. j.deid)
        emitTo(qkey, "removed", "jobId", cur, "prev", "delayed")
        emitTo(qkey, "deduplicated", "jobId", id, "deduplicationId", j.deid, "deduplicatedJobId", cur)
        if not ext and j.dettl > 0 then rcall("SET", dk, id, "KEEPTTL") else setKey(id) end
      else
        return 2, cur, cur
      end
    elseif ext and j.dettl > 0 then
      if cur then
        setKey(cur)
        emitTo(qkey, "deduplicated", "jobId", cur, "deduplicationId", j.deid, "deduplicatedJobId", id)
        return 2, cur, cur
      end
      setKey(id)
    elseif cur then
      emitTo(qkey, "deduplicated", "jobId", cur, "deduplicationId", j.deid, "deduplicatedJobId", id)
      return 2, cur, cur
    else
      setKey(id)
    end
  end
  local f = {"name", j.name, "data", j.data, "opts", j.opts, "timestamp", j.ts,
    "delay", j.delay, "priority", j.priority}
  if j.parentKey ~= "" then
    f[#f + 1] = "parentKey"; f[#f + 1] = j.parentKey
    f[#f + 1] = "parent"; f[#f + 1] = j.parent
  end
  if j.rjk ~= "" then f[#f + 1] = "rjk"; f[#f + 1] = j.rjk end
  if j.deid ~= "" then f[#f + 1] = "deid"; f[#f + 1] = j.deid end
  rcall("HSET", jk, unpack(f))
  emitTo(qkey, "added", "jobId", id, "name", j.name)
  if j.waitChildren then
    rcall("ZADD", qk(qkey, "waiting-children"), j.ts, id)
    emitTo(qkey, "waiting-children", "jobId", id)
  elseif tonumber(j.delay) > 0 then
    delayIn(qkey, id, tonumber(j.ts) + tonumber(j.delay))
  else
    local push = "LPUSH"
    if j.lifo then push = "RPUSH" end
    if b then
      batchEnqueue(b, id, tonumber(j.priority), push)
    else
      enqueueIn(qkey, id, tonumber(j.priority), push)
    end
    emitTo(qkey, "waiting", "jobId", id)
  end
  if j.parentKey ~= "" then rcall("SADD", j.parentKey .. ":dependencies", jk) end
  return 0, id, ""
end

-- requeueDedupNext creates the job a BullMQ producer left in dn:<deid>
-- (deduplication with keepLastIfActive: the latest add made while the
-- deduplicated job was active) once that job has finished, as BullMQ's
-- finish does. The hash holds name, data, opts (BullMQ's JSON), jid (the
-- id the add was given) and, for a child, pk/pd (parent key and JSON).
local function requeueDedupNext(deid, now)
  local nk = prefix .. "dn:" .. deid
  local v = rcall("HMGET", nk, "name", "data", "opts", "pk", "pd", "rjk", "jid")
  if not v[1] then return end
  local ok, o = pcall(cjson.decode, v[3] or "{}")
  if not ok or type(o) ~= "table" then o = {} end
  local code, id = addJob(string.sub(prefix, 1, -2), {id = v[7] or "", name = v[1], ts = now,
    data = v[2] or "{}", opts = v[3] or "{}", delay = tostring(tonumber(o["delay"]) or 0),
    priority = tostring(tonumber(o["priority"]) or 0), lifo = o["lifo"] == true,
    parentKey = v[4] or "", parent = v[5] or "", rjk = v[6] or "", deid = "", dettl = 0})
  if code == 0 then
    local de = o["de"]
    local dk = prefix .. "de:" .. deid
    local ttl = type(de) == "table" and tonumber(de["ttl"]) or 0
    rcall("HSET", prefix .. id, "deid", deid)
    if type(de) == "table" and de["keepLastIfActive"] then
      rcall("SET", dk, id)
    elseif ttl > 0 then
      rcall("SET", dk, id, "PX", ttl)
    else
      rcall("SET", dk, id)
    end
  end
  rcall("DEL", nk)
end

-- jobArgs reads one job description of 13 ARGV entries starting at i.
local function jobArgs(i)
  return {id = ARGV[i], name = ARGV[i + 1], ts = ARGV[i + 2], data = ARGV[i + 3],
    opts = ARGV[i + 4], delay = ARGV[i + 5], priority = ARGV[i + 6], lifo = ARGV[i + 7] == "1",
    parentKey = ARGV[i + 8], parent = ARGV[i + 9], rjk = ARGV[i + 10], deid = ARGV[i + 11],
    dettl = tonumber(ARGV[i + 12]) or 0}
end

-- failChild applies a failed child's policy (parent JSON) to its parent.
local function failChild(parentJSON, childKey, reason, now)
  local p = cjson.decode(parentJSON)
  local pk = p["queueKey"] .. ":" .. p["id"]
  local pq, pid = p["queueKey"], p["id"]
  if p["fpof"] then
    if rcall("SREM", pk .. ":dependencies", childKey) == 1 then
      rcall("ZADD", pk .. ":unsuccessful", now, childKey)
      if rcall("EXISTS", pk) == 0 then return end
      local from
      if rcall("ZSCORE", qk(pq, "waiting-children"), pid) then
        from = qk(pq, "waiting-children")
      elseif rcall("ZSCORE", qk(pq, "delayed"), pid) then
        from = qk(pq, "delayed")
        rcall("HSET", pk, "delay", 0)
      end
      if from then
        rcall("ZREM", from, pid)
        rcall("HSET", pk, "defa", "child " .. childKey .. " failed")
        enqueueIn(pq, pid, tonumber(rcall("HGET", pk, "priority")) or 0, "RPUSH")
        emitTo(pq, "waiting", "jobId", pid, "prev", "waiting-children")
      elseif not rcall("ZSCORE", qk(pq, "failed"), pid) then
        rcall("HSET", pk, "defa", "child " .. childKey .. " failed")
      end
    end
  elseif p["cpof"] then
    if rcall("SREM", pk .. ":dependencies", childKey) == 1 then
      rcall("HSET", pk .. ":failed", childKey, reason)
      if rcall("EXISTS", pk) == 1 and rcall("ZREM", qk(pq, "waiting-children"), pid) == 1 then
        enqueueIn(pq, pid, tonumber(rcall("HGET", pk, "priority")) or 0, "RPUSH")
        emitTo(pq, "waiting", "jobId", pid, "prev", "waiting-children")
      end
    end
  elseif p["idof"] or p["rdof"] then
    if rcall("SREM", pk .. ":dependencies", childKey) == 1 then
      if p["idof"] then rcall("HSET", pk .. ":failed", childKey, reason) end
      releaseParentIfReady(pk, now)
    end
  end
end

-- trimFinished applies a retention policy to the completed/failed set.
local function trimFinished(setKey, now, keepCount, keepAge)
  if keepAge then
    local ids = rcall("ZRANGEBYSCORE", setKey, "-inf", tonumber(now) - keepAge * 1000, "LIMIT", 0, 1000)
    for _, id in ipairs(ids) do
      removeJobKeys(prefix .. id)
      rcall("ZREM", setKey, id)
    end
  end
  if keepCount and keepCount > 0 then
    local ids = rcall("ZREVRANGE", setKey, keepCount, -1)
    for _, id in ipairs(ids) do removeJobKeys(prefix .. id) end
    if #ids > 0 then rcall("ZREMRANGEBYRANK", setKey, 0, -(keepCount + 1)) end
  end
end

-- collectMetrics counts one finished job in per-minute buckets.
local function collectMetrics(metricsKey, maxPoints, now)
  local count = rcall("HINCRBY", metricsKey, "count", 1) - 1
  local prevTS = rcall("HGET", metricsKey, "prevTS")
  if not prevTS then
    rcall("HSET", metricsKey, "prevTS", now, "prevCount", 0)
    return
  end
  local n = math.min(math.floor(tonumber(now) / 60000) - math.floor(tonumber(prevTS) / 60000), maxPoints)
  if n > 0 then
    local delta = count - (tonumber(rcall("HGET", metricsKey, "prevCount")) or 0)
    local dataKey = metricsKey .. ":data"
    rcall("LPUSH", dataKey, delta)
    for _ = 2, n do rcall("LPUSH", dataKey, 0) end
    rcall("LTRIM", dataKey, 0, maxPoints - 1)
    rcall("HSET", metricsKey, "prevCount", count, "prevTS", now)
  end
end

-- stateOf returns the state of a job of the queue at qkey.
local function stateOf(qkey, id)
  if rcall("ZSCORE", qk(qkey, "completed"), id) then return "completed" end
  if rcall("ZSCORE", qk(qkey, "failed"), id) then return "failed" end
  if rcall("ZSCORE", qk(qkey, "delayed"), id) then return "delayed" end
  if rcall("ZSCORE", qk(qkey, "prioritized"), id) then return "prioritized" end
  if rcall("ZSCORE", qk(qkey, "waiting-children"), id) then return "waiting-children" end
  if rcall("LPOS", qk(qkey, "active"), id) then return "active" end
  if rcall("LPOS", qk(qkey, "wait"), id) then return "waiting" end
  return "unknown"
end

-- removeOne deletes a job wherever it is, with its keys. With children it
-- also deletes its children (recursively); with updateParent it drops the
-- job from its parent's dependencies, releasing the parent when it was the
-- last one. It emits "removed" unless silent (BullMQ's clean and drain
-- emit no per-job event). It returns the state the job was in.
local function removeOne(qkey, id, withChildren, updateParent, silent)
  local jobKey = qkey .. ":" .. id
  local st = stateOf(qkey, id)
  if st == "active" then rcall("LREM", qk(qkey, "active"), 0, id)
  elseif st == "waiting" then rcall("LREM", qk(qkey, "wait"), 0, id)
  elseif st == "completed" or st == "failed" or st == "delayed" or st == "prioritized" then
    rcall("ZREM", qk(qkey, st), id)
  elseif st == "waiting-children" then rcall("ZREM", qk(qkey, "waiting-children"), id)
  end
  rcall("SREM", qk(qkey, "stalled"), id)
  local a = rcall("HMGET", jobKey, "parentKey", "deid")
  if updateParent and a[1] and rcall("SREM", a[1] .. ":dependencies", jobKey) == 1 then
    releaseParentIfReady(a[1], 0)
  end
  if a[2] then
    local dk = qkey .. ":de:" .. a[2]
    if rcall("GET", dk) == id then rcall("DEL", dk) end
  end
  if withChildren then
    local kids = rcall("SMEMBERS", jobKey .. ":dependencies")
    for _, k in ipairs(rcall("HKEYS", jobKey .. ":processed")) do kids[#kids + 1] = k end
    for _, k in ipairs(rcall("HKEYS", jobKey .. ":failed")) do kids[#kids + 1] = k end
    for _, k in ipairs(rcall("ZRANGE", jobKey .. ":unsuccessful", 0, -1)) do kids[#kids + 1] = k end
    for _, k in ipairs(kids) do
      if rcall("EXISTS", k) == 1 and rcall("EXISTS", k .. ":lock") == 0 then 
        local cq, cid = splitJobKey(k)
        removeOne(cq, cid, true, false)
      end
    end
  end
  removeJobKeys(jobKey)
  if st ~= "unknown" and not silent then
    -- BullMQ names the wait list's state "wait" here
    local prev = st
    if st == "waiting" then prev = "wait" end
    emitTo(qkey, "removed", "jobId", id, "prev", prev)
  end
  return st
end
