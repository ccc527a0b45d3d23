package jobqsqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Pipelined fsync.
//
// Under synchronous=FULL, SQLite fsyncs the WAL inside COMMIT, on the
// writer goroutine: while the disk flushes (0.3 ms typically, tens of ms
// in its tail), no other transaction of this process can run, so a
// worker's Fetch of a job that is already committed waits for the next
// commit's fsync too. With a walSync, the writer instead commits every
// batch at synchronous=NORMAL (the frames reach the WAL file, no fsync)
// and hands the batch's callers to the syncer goroutine, which fdatasyncs
// the WAL file and only then releases them. The writer goes on with the
// next batch meanwhile, and one fsync releases every batch committed
// before it (group commit across batches).
//
// A caller still returns only once its commit is on disk: an Add that
// returns survives a power loss, as with inline FULL. What changes is
// visibility: a commit is visible to readers and to the next transaction
// (a worker's Fetch) from the moment it is written, before its fsync, so
// a job can start before its Add has returned. The WAL recovers a prefix
// of the commits after a power loss (frames carry a running checksum),
// so a power loss in that window can undo only commits whose callers
// have not been told they succeeded, and everything committed after them
// (the fetch of such a job, say); at-least-once delivery already allows
// for a job that ran and must run again. See "Durability" in the package
// doc.
//
// When an fsync fails, the data it covered may or may not be on disk and
// the kernel may already have dropped the dirty pages: the syncer fails
// the waiting callers and every later write with that error (fail-stop,
// as PostgreSQL does); reopening the database recovers whatever reached
// the disk.
type walSync struct {
	d    *Driver
	path string // the WAL file: <database>-wal
	f    *os.File

	mu      sync.Mutex
	pending []*writeOp // committed, waiting for the next fsync
	stopped bool
	failed  error // sticky: the first fsync error

	kick   chan struct{} // capacity 1: callers were queued
	exited chan struct{} // closed when the syncer goroutine returns
}

// startSync opens the WAL file of the database at dbPath and starts the
// syncer goroutine. It is called by the writer goroutine after a commit,
// when the WAL file exists.
func (d *Driver) startSync(dbPath string) (*walSync, error) {
	path := dbPath + "-wal"
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("jobqsqlite: open WAL for fsync: %w", err)
	}
	s := &walSync{d: d, path: path, f: f, kick: make(chan struct{}, 1), exited: make(chan struct{})}
	go s.loop()
	return s, nil
}

// err returns the sticky fsync error, if any.
func (s *walSync) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// release finishes the no-sync ops of a batch that has just committed
// (their loss in a power failure is harmless) and queues the others for
// the next fsync.
func (s *walSync) release(ops []*writeOp) {
	queued := false
	s.mu.Lock()
	for _, o := range ops {
		switch {
		case o.noSync:
			o.finish(o.err)
		case s.failed != nil:
			o.finish(s.failed)
		default:
			s.pending = append(s.pending, o)
			queued = true
		}
	}
	s.mu.Unlock()
	if queued {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// stop lets the syncer release what is queued, waits for it to return
// and closes the WAL file.
func (s *walSync) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	<-s.exited
	s.f.Close()
}

// loop is the syncer goroutine: one fsync per round, for every caller
// queued when it starts.
func (s *walSync) loop() {
	defer close(s.exited)
	for range s.kick {
		for {
			s.mu.Lock()
			ops, stopped := s.pending, s.stopped
			s.pending = nil
			s.mu.Unlock()
			if len(ops) == 0 {
				if stopped {
					return
				}
				break
			}
			err := s.sync()
			if err != nil {
				s.mu.Lock()
				if s.failed == nil {
					s.failed = err
				}
				err = s.failed
				s.mu.Unlock()
				s.d.log.Error("jobqsqlite: WAL fsync failed; every later write fails until the database is reopened", "path", s.path, "err", err)
			}
			for _, o := range ops {
				if err != nil {
					o.finish(err)
				} else {
					o.finish(o.err)
				}
			}
		}
	}
}

// sync flushes the WAL file. The file is the one SQLite writes: SQLite
// keeps it while any connection is open (and never deletes it while ours
// are), but if it was replaced, the new one is opened and flushed.
func (s *walSync) sync() error {
	if h := s.d.cfg.syncHook; h != nil {
		if err := h(); err != nil {
			return fmt.Errorf("jobqsqlite: fsync %s: %w", s.path, err)
		}
	}
	cur, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("jobqsqlite: fsync %s: %w", s.path, err)
	}
	if open, err := s.f.Stat(); err != nil || !os.SameFile(open, cur) {
		f, oerr := os.OpenFile(s.path, os.O_RDWR, 0)
		if oerr != nil {
			return fmt.Errorf("jobqsqlite: fsync %s: reopen: %w", s.path, errors.Join(err, oerr))
		}
		s.f.Close()
		s.f = f
	}
	if err := fdatasync(s.f); err != nil {
		return fmt.Errorf("jobqsqlite: fsync %s: %w", s.path, err)
	}
	s.d.fsyncs.Add(1)
	return nil
}
