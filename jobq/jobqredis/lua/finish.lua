-- finish: moves an active job to completed or failed, then optionally
-- fetches. ARGV: [2] id, [3] token, [4] now, [5] "completed"/"failed",
-- [6] return value JSON / failed reason, [7] stacktrace JSON or "",
-- [8] keep count ("" = unlimited), [9] keep age s ("" = unlimited),
-- [10] "1" = retries exhausted, [11] metrics max points ("0" = off),
-- [12] "1" = fetch next, [13] lock ms, [14] worker, [15] limiter max,
-- [16] limiter duration, [17..] tokens.
-- Returns {code, fetch result or 0}; code 0 ok, -1 missing job, -2/-6 lock,
-- -3 not active, -4 pending children, -9 failed children.
local id, token, now, target = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local jk = prefix .. id
local code = 0
if rcall("EXISTS", jk) == 0 then
  code = -1
elseif target == "completed" and rcall("SCARD", jk .. ":dependencies") > 0 then
  code = -4
elseif target == "completed" and rcall("ZCARD", jk .. ":unsuccessful") > 0 then
  code = -9
else
  code = removeLockChecked(jk, id, token)
  if code == 0 and rcall("LREM", kActive, -1, id) == 0 then code = -3 end
end
if code == 0 then
  local value = ARGV[6]
  local a = rcall("HMGET", jk, "parentKey", "parent", "deid")
  if a[3] then
    local dk = prefix .. "de:" .. a[3]
    local ttl = rcall("PTTL", dk)
    if ttl == 0 or (ttl == -1 and rcall("GET", dk) == id) then rcall("DEL", dk) end
  end
  if a[1] then
    if target == "completed" then
      if rcall("SREM", a[1] .. ":dependencies", jk) == 1 then
        rcall("HSET", a[1] .. ":processed", jk, value)
        releaseParentIfReady(a[1], now)
      end
    elseif a[2] then
      failChild(a[2], jk, value, now)
    end
  end
  local atm = rcall("HINCRBY", jk, "atm", 1)
  local keepCount, keepAge = tonumber(ARGV[8]), tonumber(ARGV[9])
  local setKey = kCompleted
  local field = "returnvalue"
  if target == "failed" then setKey, field = kFailed, "failedReason" end
  if keepCount == 0 then
    removeJobKeys(jk)
    if a[1] and rcall("SREM", a[1] .. ":dependencies", jk) == 1 then releaseParentIfReady(a[1], now) end
  else
    rcall("ZADD", setKey, now, id)
    rcall("HSET", jk, field, value, "finishedOn", now)
    if target == "failed" then
      rcall("HDEL", jk, "defa")
      if ARGV[7] ~= "" then rcall("HSET", jk, "stacktrace", ARGV[7]) end
    end
    trimFinished(setKey, now, keepCount, keepAge)
  end
  emit(target, "jobId", id, field, value, "prev", "active")
  if target == "failed" and ARGV[10] == "1" then
    emit("retries-exhausted", "jobId", id, "attemptsMade", atm)
  end
  local mp = tonumber(ARGV[11]) or 0
  if mp > 0 then
    local mk = kMetricsCompleted
    if target == "failed" then mk = kMetricsFailed end
    collectMetrics(mk, mp, now)
  end
end
local fetched = 0
if ARGV[12] == "1" then
  local tokens = {}
  for i = 17, #ARGV do tokens[#tokens + 1] = ARGV[i] end
  fetched = fetchMany(now, tokens, ARGV[13], ARGV[14], tonumber(ARGV[15]), tonumber(ARGV[16]))
end
if code == 0 and rcall("LLEN", kWait) == 0 and rcall("LLEN", kActive) == 0 and rcall("ZCARD", kPrio) == 0 then
  emit("drained")
end
return {code, fetched}
