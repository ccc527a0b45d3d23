-- Stores a loaded value unless its key was deleted since the load began.
-- KEYS[1]: the value, KEYS[2]: the key's version.
-- ARGV[1]: the version read before loading ("" when there was none),
-- ARGV[2]: the value, ARGV[3]: its TTL in milliseconds.
-- Returns 1 when stored, 0 when the version changed.
local version = redis.call('GET', KEYS[2])
if version == false then
  version = ''
end
if version ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
