-- state: returns a job's state name. ARGV: [2] id.
if rcall("EXISTS", prefix .. ARGV[2]) == 0 then return "unknown" end
return stateOf(string.sub(prefix, 1, #prefix - 1), ARGV[2])
