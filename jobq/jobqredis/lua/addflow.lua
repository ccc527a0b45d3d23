-- addflow: adds a tree of jobs atomically. ARGV[2] = node count; then per
-- node 16 entries: queue key, parent index (1-based, 0 = root), has
-- children ("1"/"0"), and the 13 job entries read by jobArgs. Nodes come in
-- pre-order, so a parent precedes its children. Returns the ids, or -5
-- when the root names a missing parent.
local n = tonumber(ARGV[2])
local ids, keys, qkeys = {}, {}, {}
for i = 1, n do
  local base = 3 + (i - 1) * 16
  local qkey = ARGV[base]
  local pidx = tonumber(ARGV[base + 1])
  local j = jobArgs(base + 3)
  j.waitChildren = ARGV[base + 2] == "1"
  j.inFlow = true
  if pidx > 0 then
    -- the parent's id may have been generated above
    local pq = qkeys[pidx]
    local pid = ids[pidx]
    j.parentKey = keys[pidx]
    local pf = cjson.decode(j.parent ~= "" and j.parent or "{}")
    pf["id"] = pid
    pf["queueKey"] = pq
    j.parent = cjson.encode(pf)
    -- BullMQ's flow producer gives each child opts.parent {id, queue}
    local okj, o = pcall(cjson.decode, j.opts)
    if okj and type(o) == "table" then
      local op = {}
      op["id"] = pid
      op["queue"] = pq
      o["parent"] = op
      j.optsTable = o
    end
  end
  local code, id = addJob(qkey, j)
  if code == -5 then return -5 end
  ids[i], keys[i], qkeys[i] = id, qkey .. ":" .. id, qkey
  if code == 2 and pidx > 0 then
    -- deduplicated child: link the job that won to the parent
    registerChild(keys[pidx], keys[i], j.ts, true)
  end
end
-- parents whose children all completed already can run now
for i = n, 1, -1 do
  if ARGV[3 + (i - 1) * 16 + 2] == "1" then releaseParentIfReady(keys[i], ARGV[3 + (i - 1) * 16 + 5]) end
end
return ids
