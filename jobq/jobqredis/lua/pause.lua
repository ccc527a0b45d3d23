-- pause: pauses (ARGV[2] = "1") or resumes the queue.
if ARGV[2] == "1" then
  rcall("HSET", kMeta, "paused", 1)
  rcall("DEL", kMarker)
  emit("paused")
else
  rcall("HDEL", kMeta, "paused")
  if rcall("LLEN", kWait) > 0 or rcall("ZCARD", kPrio) > 0 then rcall("ZADD", kMarker, "0", "0") end
  delayMarkerIn(kMarker, kDelayed)
  emit("resumed")
end
return 0
