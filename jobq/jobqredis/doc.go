// Package jobqredis is the Redis backend of jobq. It implements
// jobqdriver.Driver over the exact Redis layout of BullMQ 6.7.0 (pinned as
// BullMQVersion), so that Node BullMQ producers and workers, bull-board and
// Go workers share the same queues.
//
// # Layout
//
// Every queue Q lives under "<prefix>:Q:" (prefix "bull" by default): the
// wait and active lists, the prioritized, delayed, completed, failed,
// waiting-children, marker and repeat sorted sets, the meta hash, the id and
// pc counters, the events stream, the stalled set, the stalled-check and
// limiter keys, metrics hashes, and per job a hash "<prefix>:Q:<id>" with
// its ":lock", ":logs", ":dependencies", ":processed", ":failed" and
// ":unsuccessful" keys. Field names, score encodings (priority·2^32+counter,
// due·0x1000+sequence), event names and JSON encodings follow BullMQ 6.7.0.
// As in BullMQ, queue names may not contain a colon (ErrQueueName) while job
// ids may, so a parent or child key "<prefix>:<queue>:<id>" is split after
// the queue name.
//
// # Connecting
//
// Open takes a URL (see ParseURL): redis:// or rediss:// for one server,
// redis-sentinel://host:26379[,host:26379...]/mastername[/db] for Redis
// Sentinel, and redis-cluster://host:port[,host:port...]/ for Redis
// Cluster. New takes any go-redis client instead. On Sentinel each
// worker's blocking connection follows the master through failovers.
//
// # Scripts and the clean-room rule
//
// Each operation is one atomic Lua script under lua/, embedded with go:embed
// and run with EVALSHA (falling back to EVAL). The scripts were written for
// this package from facts about BullMQ's layout (key names, field
// encodings, scores, event names); no BullMQ Lua or TypeScript was copied or
// paraphrased. lua/lib.lua holds shared helpers and is prepended to every
// operation script.
//
// Adds from many goroutines are batched: the single adds queued while the
// driver's add runners are busy go, per queue, into one addmany script
// call that stores each job exactly as the add script would, each with its
// own result. A worker's completions likewise go in one finish call per
// batch, which also fetches the next jobs; when a fetch takes 8 jobs or
// more, the script returns their ids and the driver reads the job hashes
// in one pipeline after it (a hash read through Lua costs Redis twice).
//
// Open and Dial speak RESP2 unless the URL sets "protocol"; New accepts a
// client speaking either.
//
// Every queue-level key a script touches is passed in KEYS. Per-job keys
// are derived inside the scripts from the queue prefix (ARGV[1]), and a
// parent's queue keys from its stored parent key, as BullMQ itself does. On
// Redis Cluster all of a queue's keys, and those of queues linked by flows,
// must therefore hash to one slot: use a prefix with a hash tag, such as
// "{bull}" (New logs a warning on a Cluster client without one, and a
// CROSSSLOT error names the fix). A hash tag in each queue name ("{q}")
// also works for queues that no flow links.
package jobqredis
