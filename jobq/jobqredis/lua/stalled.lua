-- stalled: one stalled sweep, guarded by stalled-check. ARGV: [2] max
-- stalled count, [3] interval ms, [4] now. Returns {recovered, failed}.
if not rcall("SET", kStalledCheck, ARGV[4], "PX", ARGV[3], "NX") then return {{}, {}} end
local maxStalled = tonumber(ARGV[2])
local recovered, failed = {}, {}
local qkey = string.sub(prefix, 1, #prefix - 1)
local marked = rcall("SMEMBERS", kStalled)
if #marked > 0 then
  rcall("DEL", kStalled)
  for _, id in ipairs(marked) do
    local jk = prefix .. id
    if rcall("EXISTS", jk .. ":lock") == 0 and rcall("LREM", kActive, 1, id) > 0 then
      local stc = rcall("HINCRBY", jk, "stc", 1)
      local sid = rcall("HGET", jk, "rjk")
      local repeating = sid and rcall("EXISTS", prefix .. "repeat:" .. sid) == 1
      if stc > maxStalled and not repeating then
        rcall("HSET", jk, "defa", "job stalled more than allowable limit")
        failed[#failed + 1] = id
      else
        recovered[#recovered + 1] = id
      end
      local blocked = pausedOrMaxedOf(kMeta, kActive)
      rcall("RPUSH", kWait, id)
      if not blocked then rcall("ZADD", kMarker, "0", "0") end
      emit("waiting", "jobId", id, "prev", "active")
      emit("stalled", "jobId", id)
    end
  end
end
local active = rcall("LRANGE", kActive, 0, -1)
for i = 1, #active, 5000 do
  rcall("SADD", kStalled, unpack(active, i, math.min(i + 4999, #active)))
end
return {recovered, failed}
