-- wrk script: request the paths listed in $PATHS_FILE (one per line) in
-- turn, each connection from its own offset, optionally paced: with
-- $DELAY_MS set each connection waits that long between requests (an
-- approximately fixed rate of connections*1000/DELAY_MS requests/s; plain
-- wrk has no rate option). Prints the status counts at the end.
local paths = {}
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("PATHS_FILE")) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  i = (id * 7919) % #paths
  non2xx = 0
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept-Encoding"] = "gzip" })
end

function response(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end

if delay_ms > 0 then
  function delay() return delay_ms end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  io.write(string.format("non-200 answers: %d\n", bad))
end
