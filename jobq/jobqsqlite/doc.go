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
// rolls back that method only, and commits once. Callers return after
// that commit (under FULL, after the fsync that covers it, see
// Durability), each with its own result; waiters are woken right after
// the commit. A
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
// Under FULL the fsync is pipelined: the writer commits every transaction
// at synchronous=NORMAL (the frames reach the WAL file, no fsync) and goes
// on with the next one, while a syncer goroutine fdatasyncs the WAL file
// and then releases the callers of every transaction committed before
// that fsync. So a caller still returns only once its commit is on disk,
// but the writer never waits for the disk, and one fsync covers every
// transaction committed while the previous one ran. A commit is visible
// (to readers, to the next transaction, to a worker's Fetch) before it is
// fsynced: a job can start before its Add returns. The WAL is one
// append-only file whose frames carry a running checksum, so after a
// power loss SQLite recovers a prefix of the commits, and an fsync covers
// every frame written before it; a power loss can therefore undo only
// commits whose callers had not returned, with whatever was committed
// after them (the fetch of such a job). The Add had not succeeded, and the
// producer's process, on the same machine, died with it; a job that ran
// and runs again is what at-least-once delivery allows. A process crash,
// as opposed to a power loss or OS crash, loses nothing: the commit is in
// the WAL file (the OS page cache) when it becomes visible.
//
// Two methods do not wait for an fsync even under FULL: Fetch (moving
// jobs from waiting to active, and promoting due delayed jobs) and
// ExtendLocks. Their callers are released right after the commit. This is
// safe because such a loss only undoes work whose owners died with the
// machine: the fetched jobs are waiting again (with their attempt count
// and limiter slots as before the fetch), and run again after the
// restart, as the at-least-once contract allows; a lost lock renewal
// protected a worker that is gone. Adds, completions and failures,
// retries, moves, removals and every other change wait for their fsync
// before they return: they are results someone relies on.
//
// When an fsync fails, the syncer fails the callers it covered and every
// later write with that error (fail-stop: the kernel may have dropped the
// pages it could not write); reopen the database to recover what reached
// the disk. If the WAL file cannot be opened for the syncer, the driver
// logs a warning and falls back to SQLite's fsync inside COMMIT, where
// Fetch and ExtendLocks commit in a transaction of their own at
// synchronous=NORMAL and the other writes of a batch follow in a second,
// fsynced one.
//
// Fetch is on the path from enqueue to start. In BenchmarkSteady (1,000
// jobs/s, 10 s runs on a shared 2-core machine) the p999 of
// enqueue→start with the fsync inside COMMIT followed the disk's fsync
// tail (7.5 to 61 ms in runs on an idle machine, 35 ms under a CPU and
// disk hog); with the pipelined fsync it is 1.6 to 2.6 ms idle and 19.5
// ms under the same hog, below the Add's own p999 (docs/BENCHMARKS.md).
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
