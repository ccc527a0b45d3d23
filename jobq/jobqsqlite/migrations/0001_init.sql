-- jobq SQLite schema, version 1.

-- One row per queue: counters and queue-wide state.
CREATE TABLE queues (
	queue            TEXT PRIMARY KEY,
	paused           INTEGER NOT NULL DEFAULT 0,
	id_ctr           INTEGER NOT NULL DEFAULT 0, -- BullMQ's "id" counter
	seq              INTEGER NOT NULL DEFAULT 0, -- ordering key source
	evt_seq          INTEGER NOT NULL DEFAULT 0, -- last event sequence
	wake_gen         INTEGER NOT NULL DEFAULT 0, -- bumped when work may be ready
	lim_start        INTEGER NOT NULL DEFAULT 0, -- limiter window start, ms
	lim_count        INTEGER NOT NULL DEFAULT 0, -- jobs started in the window
	rl_until         INTEGER NOT NULL DEFAULT 0, -- manual rate limit end, ms
	stalled_check_at INTEGER NOT NULL DEFAULT 0, -- last stalled sweep, ms
	drained          INTEGER NOT NULL DEFAULT 0  -- "drained" already emitted
) WITHOUT ROWID;

-- Jobs of every queue. (score, ord) is the natural order inside a state:
-- waiting: (0, ord) with ord = +seq at the back, -seq at the front;
-- prioritized: (priority, seq); delayed: (run_at, seq);
-- completed/failed: (finished_on, seq); active: (0, seq);
-- waiting-children: (timestamp, seq).
CREATE TABLE jobs (
	rid           INTEGER PRIMARY KEY,
	queue         TEXT NOT NULL,
	id            TEXT NOT NULL,
	name          TEXT NOT NULL DEFAULT '',
	data          TEXT,
	opts          TEXT NOT NULL DEFAULT '{}',
	ts            INTEGER NOT NULL DEFAULT 0,
	delay         INTEGER NOT NULL DEFAULT 0,
	priority      INTEGER NOT NULL DEFAULT 0,
	state         TEXT NOT NULL,
	score         INTEGER NOT NULL DEFAULT 0,
	ord           INTEGER NOT NULL DEFAULT 0,
	processed_on  INTEGER NOT NULL DEFAULT 0,
	finished_on   INTEGER NOT NULL DEFAULT 0,
	ats           INTEGER NOT NULL DEFAULT 0,
	atm           INTEGER NOT NULL DEFAULT 0,
	stc           INTEGER NOT NULL DEFAULT 0,
	progress      TEXT,
	returnvalue   TEXT,
	failed_reason TEXT NOT NULL DEFAULT '',
	stacktrace    TEXT,
	parent_key    TEXT NOT NULL DEFAULT '',
	parent        TEXT,
	pb            TEXT NOT NULL DEFAULT '',
	rjk           TEXT NOT NULL DEFAULT '',
	deid          TEXT NOT NULL DEFAULT '',
	defa          TEXT NOT NULL DEFAULT '',
	lock_token    TEXT NOT NULL DEFAULT '',
	lock_until    INTEGER NOT NULL DEFAULT 0,
	stalled       INTEGER NOT NULL DEFAULT 0, -- marked by the last stalled sweep
	has_deps      INTEGER NOT NULL DEFAULT 0  -- has (had) children
);
CREATE UNIQUE INDEX jobs_queue_id ON jobs(queue, id);
CREATE INDEX jobs_order ON jobs(queue, state, score, ord);
CREATE INDEX jobs_rjk ON jobs(queue, rjk) WHERE rjk <> '';

-- Job log lines.
CREATE TABLE logs (
	lid    INTEGER PRIMARY KEY,
	queue  TEXT NOT NULL,
	job_id TEXT NOT NULL,
	line   TEXT NOT NULL
);
CREATE INDEX logs_job ON logs(queue, job_id, lid);

-- Parent/child dependencies. state: pending, processed (value =
-- returnvalue), failed (value = failedReason, idof/cpof), unsuccessful
-- (value = failedReason, fpof).
CREATE TABLE deps (
	parent_queue TEXT NOT NULL,
	parent_id    TEXT NOT NULL,
	child_key    TEXT NOT NULL,
	child_queue  TEXT NOT NULL,
	child_id     TEXT NOT NULL,
	state        TEXT NOT NULL,
	value        TEXT,
	PRIMARY KEY (parent_queue, parent_id, child_key)
) WITHOUT ROWID;
CREATE INDEX deps_child ON deps(child_queue, child_id);

-- Deduplication keys; expires_at 0 = until the job finishes.
CREATE TABLE dedup (
	queue      TEXT NOT NULL,
	dedup_id   TEXT NOT NULL,
	job_id     TEXT NOT NULL,
	expires_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;

-- Job schedulers.
CREATE TABLE schedulers (
	queue      TEXT NOT NULL,
	id         TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	every      INTEGER NOT NULL DEFAULT 0,
	pattern    TEXT NOT NULL DEFAULT '',
	tz         TEXT NOT NULL DEFAULT '',
	lim        INTEGER NOT NULL DEFAULT 0,
	start_date INTEGER NOT NULL DEFAULT 0,
	end_date   INTEGER NOT NULL DEFAULT 0,
	offs       INTEGER NOT NULL DEFAULT 0,
	ic         INTEGER NOT NULL DEFAULT 0,
	next       INTEGER NOT NULL DEFAULT 0,
	data       TEXT,
	opts       TEXT NOT NULL DEFAULT '{}',
	PRIMARY KEY (queue, id)
) WITHOUT ROWID;
CREATE INDEX schedulers_next ON schedulers(queue, next);

-- Queue event log (BullMQ's events stream).
CREATE TABLE events (
	queue  TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	name   TEXT NOT NULL,
	fields TEXT NOT NULL,
	PRIMARY KEY (queue, seq)
) WITHOUT ROWID;

-- Per-minute metrics; data is a JSON array, newest first.
CREATE TABLE metrics (
	queue      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	count      INTEGER NOT NULL DEFAULT 0,
	prev_ts    INTEGER NOT NULL DEFAULT 0,
	prev_count INTEGER NOT NULL DEFAULT 0,
	data       TEXT NOT NULL DEFAULT '[]',
	PRIMARY KEY (queue, kind)
) WITHOUT ROWID;

-- Deleting a job deletes its logs and, for parents, its dependency rows.
CREATE TRIGGER jobs_delete_logs AFTER DELETE ON jobs BEGIN
	DELETE FROM logs WHERE queue = old.queue AND job_id = old.id;
END;
CREATE TRIGGER jobs_delete_deps AFTER DELETE ON jobs WHEN old.has_deps = 1 BEGIN
	DELETE FROM deps WHERE parent_queue = old.queue AND parent_id = old.id;
END;
