package faults

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqredis"
	"github.com/sevra/atlas/jobq/jobqsqlite"
)

// The crash scenario re-executes this test binary as a worker process
// (the way jobqtest.CrashChildMain does): with childEnv set, TestMain runs
// workerChild instead of the tests.
const (
	childEnv    = "FAULTS_CHILD"      // "worker"
	backendEnv  = "FAULTS_BACKEND"    // "redis" or "sqlite"
	dsnEnv      = "FAULTS_DSN"        // Redis URL or SQLite file
	prefixEnv   = "FAULTS_PREFIX"     // key prefix
	queueEnv    = "FAULTS_QUEUE"      // queue name
	lockEnv     = "FAULTS_LOCK_MS"    // WorkerConfig.LockDuration
	stalledEnv  = "FAULTS_STALLED_MS" // WorkerConfig.StalledInterval
	workEnv     = "FAULTS_WORK_MS"    // time each job takes
	childConcur = 4
)

// childMain runs the worker child when childEnv is set and reports whether
// it did.
func childMain() bool {
	if os.Getenv(childEnv) != "worker" {
		return false
	}
	if err := workerChild(); err != nil {
		fmt.Fprintln(os.Stderr, "faults worker child:", err)
		os.Exit(2)
	}
	os.Exit(0)
	return true
}

func envMS(name string) time.Duration {
	n, _ := strconv.Atoi(os.Getenv(name))
	return time.Duration(n) * time.Millisecond
}

// openBackend opens the backend a worker child and the test share.
func openBackend(ctx context.Context, kind, dsn, prefix string) (jobq.Backend, error) {
	switch kind {
	case "redis":
		return jobqredis.Open(ctx, dsn, &jobqredis.Config{Prefix: prefix})
	case "sqlite":
		return jobqsqlite.Open(ctx, dsn, &jobqsqlite.Config{Prefix: prefix})
	}
	return nil, fmt.Errorf("unknown backend %q", kind)
}

// workerChild runs one worker process until it is killed. For each job it
// writes to stdout, unbuffered, with the time (Unix ns, the machine's
// clock, so pipe delays do not count): "S <id> <t>" when the processor
// starts, "D <id> <t>" when the job's work (its side effect) is done, and
// "C <id> <t>" once the backend has recorded the completion.
func workerChild() error {
	ctx := context.Background()
	drv, err := openBackend(ctx, os.Getenv(backendEnv), os.Getenv(dsnEnv), os.Getenv(prefixEnv))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	say := func(kind, id string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "%s %s %d\n", kind, id, time.Now().UnixNano())
	}
	work := envMS(workEnv)
	w, err := jobq.NewWorker(os.Getenv(queueEnv), drv, func(ctx context.Context, j *jobq.Job) (any, error) {
		say("S", j.ID)
		time.Sleep(work)
		say("D", j.ID)
		return nil, nil
	}, &jobq.WorkerConfig{
		Concurrency:     childConcur,
		LockDuration:    envMS(lockEnv),
		StalledInterval: envMS(stalledEnv),
		// Kills every few seconds may catch a job more than once; it must
		// still complete, so it may stall often before it fails.
		MaxStalledCount: 1000,
		DrainDelay:      200 * time.Millisecond,
		OnCompleted:     func(j *jobq.Job, _ []byte) { say("C", j.ID) },
		OnError:         func(err error) { fmt.Fprintln(os.Stderr, "worker error:", err) },
	})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	say("R", "ready")
	for {
		time.Sleep(time.Hour) // until SIGKILL
	}
}
