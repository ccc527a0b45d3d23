-- jobq SQLite schema, version 2: worker heartbeats, so that the workers
-- online for a queue can be listed (jobqdriver.WorkerLister).
CREATE TABLE workers (
	queue       TEXT NOT NULL,
	name        TEXT NOT NULL,
	host        TEXT NOT NULL DEFAULT '',
	pid         INTEGER NOT NULL DEFAULT 0,
	concurrency INTEGER NOT NULL DEFAULT 0,
	started     INTEGER NOT NULL DEFAULT 0, -- ms, first heartbeat
	last_seen   INTEGER NOT NULL DEFAULT 0, -- ms, latest heartbeat
	PRIMARY KEY (queue, name)
) WITHOUT ROWID;
