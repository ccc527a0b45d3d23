-- promote: moves a delayed job to wait now. ARGV: [2] id, [3] now.
-- Returns 0, -1 (missing) or -3 (not delayed).
local id = ARGV[2]
local jk = prefix .. id
if rcall("EXISTS", jk) == 0 then return -1 end
if rcall("ZREM", kDelayed, id) == 0 then return -3 end
rcall("HSET", jk, "delay", 0)
enqueueIn(string.sub(prefix, 1, #prefix - 1), id, tonumber(rcall("HGET", jk, "priority")) or 0, "LPUSH")
emit("waiting", "jobId", id, "prev", "delayed")
return 0
