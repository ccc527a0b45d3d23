// Package jobqsqlite is the embedded SQLite backend of jobq. It implements
// jobqdriver.Driver on a single database file with modernc.org/sqlite (pure
// Go, no cgo), so a jobq deployment needs nothing but a writable directory.
//
// # Storage
//
// Every queue lives in the same file: the jobs table holds every job of
// every queue with its state and an ordering key (score, ord) indexed per
// (queue, state), so fetching, promoting and listing are index range scans.
// Queue-wide counters (id counter, ordering sequence, limiter window,
// pause flag, stalled-sweep guard, last event sequence) sit in one row per
// queue. Logs, parent/child dependencies, deduplication keys, schedulers,
// events and metrics have their own tables. The schema is embedded and
// applied on Open, versioned and idempotent.
//
// Each driver method is atomic, the counterpart of one BullMQ Lua script;
// events are written in the same transaction as the change they describe.
// Batch methods (Add, Finish, Fetch with Max > 1) run the whole batch in
// one transaction.
//
// # Group commit
//
// A process's writes all go through one writer goroutine that owns the
// write connection. Methods called concurrently (several workers' Fetch
// and Finish, producers' Add) are merged into one transaction: the writer
// takes whatever is queued when it becomes free (it never waits for more),
// runs each method inside its own SAVEPOINT, so that a method's error
// rolls back that method only, and commits once (twice when fetches share
// the batch with other writes under FULL, see Durability). Callers return after
// that commit, each with its own result; waiters are woken after it. A
// transaction that has to be retried because another process holds the
// lock re-runs every method from scratch.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL by default: when Add
// (or any other write) returns, the transaction has been fsynced to the
// WAL, and a crash or power loss cannot lose it. Config.Synchronous may be
// set to "NORMAL", which fsyncs only at checkpoints: a process crash still
// loses nothing, but a power loss or OS crash can roll back the last
// transactions. FULL is the default because a commit costs one fsync
// (about 0.3 ms here), which batching and group commit amortise: on a
// 2-core machine the conformance load test (4 workers x 25, no-op jobs)
// commits about 3.6 methods per transaction and processes 6,000 to 11,500
// jobs/s with FULL, 2 to 3 times the rate without group commit in
// back-to-back runs, with half the CPU per job. One worker alone gains
// little: its Fetch and Finish alternate, so there is nothing to merge
// (about 5,000 jobs/s at concurrency 10, 13,000 at 100). Run the package
// benchmarks to measure.
//
// Two methods skip the fsync even under FULL: Fetch (moving jobs from
// waiting to active, and promoting due delayed jobs) and ExtendLocks.
// The writer commits them in a transaction of their own at
// synchronous=NORMAL (PRAGMA synchronous, switched between transactions
// on the write connection); when a batch also holds other writes, those
// follow in a second, fsynced transaction. This is safe because:
//
//   - The WAL is one append-only file whose frames carry a running
//     checksum, so after a power loss SQLite recovers a prefix of the
//     commits, and an fsync covers every frame written before it. Every
//     other commit, of any process, is fsynced, so the only commits a
//     power loss can undo are fetches and lock renewals made since the
//     last fsync; a checkpoint also fsyncs the WAL first.
//   - Such a loss only undoes work whose owners died with the machine:
//     the fetched jobs are waiting again (with their attempt count and
//     limiter slots as before the fetch), and run again after the
//     restart, as the at-least-once contract allows; a lost lock renewal
//     protected a worker that is gone. A process crash, as opposed to a
//     power loss or OS crash, loses nothing: the commit is in the WAL
//     file when the call returns.
//   - Adds, completions and failures, retries, moves, removals and every
//     other change stay fsynced before they return: they are results
//     someone relies on. A completion is kept durable although losing it
//     would also only run the job again, because its return value and
//     "completed" event may already have been read and acted on.
//
// Until the next fsync, other processes can read a fetch's effects (the
// job active, its "active" event) that a power loss would undo; the ids
// of such lost events are reused by later events.
//
// Fetch is on the path from enqueue to start. In BenchmarkSteady (FULL,
// 1,000 jobs/s, 10 s runs on a shared 2-core machine) the p999 of
// enqueue→start exceeded the p999 of Add by 3 to 32 ms when fetches were
// fsynced, and by 0.1 to 4 ms since: what remains is the Add itself, its
// fsync and its wait for the writer, whose tail follows the disk's fsync
// tail (p999 4 to 10 ms, single fsyncs up to 27 ms, 8 KB at 1 kHz) and
// CPU contention.
//
// # Several processes
//
// Several processes on one machine may open the same file. WAL lets readers
// run beside the single writer. Every write transaction starts with BEGIN
// IMMEDIATE, so it takes the write lock up front and never has to upgrade
// a read lock (which could deadlock); a process funnels its own writes
// through one dedicated connection (see Group commit), and contention
// between processes is absorbed by SQLite's busy timeout
// (Config.BusyTimeout) plus a retry with a small backoff, so SQLITE_BUSY
// does not reach callers under normal contention. Transactions are short: no transaction waits on anything but
// SQLite.
//
// WAL requires all processes to be on the same host (it uses shared
// memory); do not put the file on a network file system.
//
// # Wake-ups
//
// A waiter (NewWaiter) returns as soon as this process commits work for its
// queue (an in-process broadcast after commit). Work added by another
// process is noticed by a poller that reads PRAGMA data_version every
// Config.PollInterval on a dedicated connection (a cheap, in-memory check)
// and, when the file changed, compares each queue's wake counter. The
// poller only queries while someone is waiting. ReadEvents blocks the same
// way on the queue's event sequence.
package jobqsqlite
