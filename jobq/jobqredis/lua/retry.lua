-- retry: moves an active job back for another attempt. ARGV: [2] id,
-- [3] token, [4] now, [5] delay ms, [6] failed reason, [7] stacktrace JSON
-- or "". Returns 0 or a finish-style error code.
local id, now, delay = ARGV[2], ARGV[4], tonumber(ARGV[5])
local jk = prefix .. id
promoteDue(now)
if rcall("EXISTS", jk) == 0 then return -1 end
local code = removeLockChecked(jk, id, ARGV[3])
if code ~= 0 then return code end
if rcall("LREM", kActive, "-1", id) == 0 then return -3 end
rcall("HSET", jk, "failedReason", ARGV[6])
if ARGV[7] ~= "" then rcall("HSET", jk, "stacktrace", ARGV[7]) end
rcall("HINCRBY", jk, "atm", 1)
local qkey = string.sub(prefix, 1, #prefix - 1)
if delay > 0 then
  rcall("HSET", jk, "delay", delay)
  delayIn(qkey, id, tonumber(now) + delay)
else
  -- to the back of wait, or the front for a lifo job, as BullMQ's retry
  local a = rcall("HMGET", jk, "priority", "opts")
  local push = "LPUSH"
  if a[2] and string.find(a[2], '"lifo":true', 1, true) then push = "RPUSH" end
  enqueueIn(qkey, id, tonumber(a[1]) or 0, push)
  emit("waiting", "jobId", id, "prev", "active")
end
return 0
