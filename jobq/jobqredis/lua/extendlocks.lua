-- extendlocks: renews the locks owned by the given tokens and clears the
-- jobs from the stalled set. ARGV: [2] duration ms, then id, token pairs.
-- Returns the ids whose lock is not owned by the token.
local lost = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local lk = prefix .. id .. ":lock"
  if rcall("GET", lk) == token then
    rcall("SET", lk, token, "PX", ARGV[2])
    rcall("SREM", kStalled, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
