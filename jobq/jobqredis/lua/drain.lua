-- drain: removes waiting and prioritized jobs, and delayed ones when
-- ARGV[2] = "1".
local ids = rcall("LRANGE", kWait, 0, -1)
for _, id in ipairs(rcall("ZRANGE", kPrio, 0, -1)) do ids[#ids + 1] = id end
if ARGV[2] == "1" then
  for _, id in ipairs(rcall("ZRANGE", kDelayed, 0, -1)) do ids[#ids + 1] = id end
end
for _, id in ipairs(ids) do removeOne(string.sub(prefix, 1, #prefix - 1), id, false, true, true) end
-- the priority counter stays, as BullMQ's drain leaves it
rcall("DEL", kWait, kPrio)
if ARGV[2] == "1" then rcall("DEL", kDelayed) end
return #ids
