-- progress: stores a job's progress JSON and emits "progress".
-- ARGV: [2] id, [3] progress JSON. Returns 0 or -1 (missing job).
local jk = prefix .. ARGV[2]
if rcall("EXISTS", jk) == 0 then return -1 end
rcall("HSET", jk, "progress", ARGV[3])
emit("progress", "jobId", ARGV[2], "data", ARGV[3])
return 0
