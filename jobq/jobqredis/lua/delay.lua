-- delay: moves an active job to delayed until ARGV[4] without counting an
-- attempt. ARGV: [2] id, [3] token, [4] until ms, [5] now.
local id = ARGV[2]
local jk = prefix .. id
if rcall("EXISTS", jk) == 0 then return -1 end
local code = removeLockChecked(jk, id, ARGV[3])
if code ~= 0 then return code end
if rcall("LREM", kActive, "-1", id) == 0 then return -3 end
local untilMs = tonumber(ARGV[4])
rcall("HSET", jk, "delay", math.max(0, untilMs - tonumber(ARGV[5])))
delayIn(string.sub(prefix, 1, #prefix - 1), id, untilMs)
return 0
