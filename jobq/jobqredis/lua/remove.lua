-- remove: deletes a job (see removeOne). ARGV: [2] id, [3] "1" = with
-- children. Returns 0, -1 (missing) or -8 (locked by a worker).
local jk = prefix .. ARGV[2]
if rcall("EXISTS", jk) == 0 then return -1 end
if rcall("EXISTS", jk .. ":lock") == 1 then return -8 end
removeOne(string.sub(prefix, 1, #prefix - 1), ARGV[2], ARGV[3] == "1", true)
return 0
