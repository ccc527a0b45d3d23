-- release: moves an active job back to the front of wait without counting
-- an attempt. ARGV: [2] id, [3] token, [4] now.
local id = ARGV[2]
local jk = prefix .. id
if rcall("EXISTS", jk) == 0 then return -1 end
local code = removeLockChecked(jk, id, ARGV[3])
if code ~= 0 then return code end
if rcall("LREM", kActive, "-1", id) == 0 then return -3 end
enqueueIn(string.sub(prefix, 1, #prefix - 1), id, tonumber(rcall("HGET", jk, "priority")) or 0, "RPUSH")
emit("waiting", "jobId", id, "prev", "active")
return 0
