-- addlog: appends a log line, keeping at most ARGV[4] lines when > 0.
-- ARGV: [2] id, [3] line, [4] keep. Returns the line count or -1.
local jk = prefix .. ARGV[2]
if rcall("EXISTS", jk) == 0 then return -1 end
local n = rcall("RPUSH", jk .. ":logs", ARGV[3])
local keep = tonumber(ARGV[4]) or 0
if keep > 0 then
  rcall("LTRIM", jk .. ":logs", -keep, -1)
  return math.min(n, keep)
end
return n
