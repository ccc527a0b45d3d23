-- fetch: promotes due delayed jobs, then moves up to #tokens ready jobs to
-- active and locks each with its token. ARGV[2] now, [3] lock ms, [4]
-- worker name, [5] limiter max, [6] limiter duration, [7..] tokens.
-- Returns {{id, fields, token}..., limiter ttl, next delayed, paused}.
local tokens = {}
for i = 7, #ARGV do tokens[#tokens + 1] = ARGV[i] end
local r = fetchMany(ARGV[2], tokens, ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
return r
