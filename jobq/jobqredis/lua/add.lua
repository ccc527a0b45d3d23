-- add: stores one job and routes it (see addJob). ARGV[2..14] describe the
-- job (see jobArgs). Returns {code, id, dedupBy}.
local code, id, by = addJob(string.sub(prefix, 1, #prefix - 1), jobArgs(2))
return {code, id, by}
