package jobqtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Environment variables that turn a re-executed test binary into the crash
// child (see CrashChildMain).
const (
	// CrashChildEnv holds the queue the crash child works on; when it is
	// set, CrashChildMain runs the child instead of returning.
	CrashChildEnv = "JOBQTEST_CRASH_CHILD"
	// CrashDSNEnv holds the backend-specific string that OpenFunc opens.
	CrashDSNEnv = "JOBQTEST_CRASH_DSN"
)

// crashStartedPrefix starts the line the crash child prints to stdout when
// its processor has taken a job; the job id follows.
const crashStartedPrefix = "jobqtest-started "

// OpenFunc opens a backend from a backend-specific string (a SQLite file
// path, a Redis URL with a key prefix, ...). The crash test calls it in
// both processes, so both must reach the same storage.
type OpenFunc func(ctx context.Context, dsn string) (jobqdriver.Driver, error)

// CrashChildMain turns the process into the crash child when CrashChildEnv
// is set, and returns at once otherwise. Call it first in the backend's
// TestMain. The child opens the backend, runs a worker whose processor
// prints "jobqtest-started <id>" and then blocks forever, and waits to be
// killed; it never returns.
func CrashChildMain(open OpenFunc) {
	queue := os.Getenv(CrashChildEnv)
	if queue == "" {
		return
	}
	if err := runCrashChild(queue, os.Getenv(CrashDSNEnv), open); err != nil {
		fmt.Fprintln(os.Stderr, "jobqtest crash child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runCrashChild(queue, dsn string, open OpenFunc) error {
	ctx := context.Background()
	drv, err := open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open backend %q: %w", dsn, err)
	}
	var mu sync.Mutex
	w, err := jobq.NewWorker(queue, drv, func(ctx context.Context, j *jobq.Job) (any, error) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, "%s%s\n", crashStartedPrefix, j.ID)
		mu.Unlock()
		select {} // until SIGKILL
	}, &jobq.WorkerConfig{
		Concurrency: 3, LockDuration: time.Second, DrainDelay: 100 * time.Millisecond,
		SkipStalledCheck: true,
	})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	for {
		time.Sleep(time.Hour)
	}
}

// ExerciseCrash runs the crash test (point 10 of the suite): it adds jobs
// to a fresh queue in the backend named by dsn, starts the current test
// binary again as the crash child (the backend's TestMain must call
// CrashChildMain), waits until the child has started processing, kills it
// with SIGKILL, and then checks that a worker in this process recovers the
// child's jobs through the stalled check and completes every job exactly
// once, with the killed ones marked as stalled. Nothing may be lost.
func ExerciseCrash(t *testing.T, dsn string, open OpenFunc) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("jobqtest: the crash test needs processes and SIGKILL")
	}
	ctx := t.Context()
	drv, err := open(ctx, dsn)
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	q := jobq.NewQueue("jqt-crash-"+hex.EncodeToString(rnd[:]), drv, nil)
	const n = 8
	var added []string
	for i := range n {
		j, err := q.Add(ctx, "crash", map[string]int{"i": i}, nil)
		if err != nil {
			t.Fatalf("add: %v", err)
		}
		added = append(added, j.ID)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), CrashChildEnv+"="+q.Name(), CrashDSNEnv+"="+dsn)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash child: %v", err)
	}
	var killOnce sync.Once
	kill := func() {
		killOnce.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(kill)
	startedIDs := make(chan string, n)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), crashStartedPrefix); ok {
				startedIDs <- id
			}
		}
		close(startedIDs)
	}()
	var inChild []string
	select {
	case id, ok := <-startedIDs:
		if !ok {
			kill()
			t.Fatalf("crash child exited before starting a job; stderr:\n%s", stderr.String())
		}
		inChild = append(inChild, id)
	case <-time.After(waitTimeout):
		kill()
		t.Fatalf("crash child started no job within %s; stderr:\n%s", waitTimeout, stderr.String())
	}
	kill() // SIGKILL mid-job
	for id := range startedIDs {
		inChild = append(inChild, id)
	}
	for _, id := range inChild {
		j, err := q.GetJob(ctx, id)
		if err != nil {
			t.Fatalf("job %s the child took: %v", id, err)
		}
		if s, _ := j.State(ctx); s != jobq.StateActive {
			t.Errorf("job %s held by the killed child is %s, want active", id, s)
		}
	}

	var mu sync.Mutex
	runs := map[string]int{}
	w, err := jobq.NewWorker(q.Name(), drv, func(ctx context.Context, j *jobq.Job) (any, error) {
		mu.Lock()
		runs[j.ID]++
		mu.Unlock()
		return "recovered", nil
	}, &jobq.WorkerConfig{
		Concurrency: 4, LockDuration: 2 * time.Second, StalledInterval: 300 * time.Millisecond,
		DrainDelay: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWorker(t, w) })
	eventually(t, 30*time.Second, func() string {
		c, err := q.GetJobCounts(ctx, jobq.StateCompleted)
		if err != nil {
			return err.Error()
		}
		if c[jobq.StateCompleted] != n {
			return fmt.Sprintf("%d of %d jobs completed after the crash", c[jobq.StateCompleted], n)
		}
		return ""
	})
	mu.Lock()
	defer mu.Unlock()
	for _, id := range added {
		if runs[id] != 1 {
			t.Errorf("job %s ran %d times in the surviving worker, want 1", id, runs[id])
		}
	}
	for _, id := range inChild {
		j, err := q.GetJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.StalledCount < 1 {
			t.Errorf("job %s recovered from the killed child has StalledCount %d, want ≥ 1", id, j.StalledCount)
		}
	}
	c, err := q.GetJobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []jobq.State{jobq.StateWaiting, jobq.StateActive, jobq.StateFailed, jobq.StateDelayed} {
		if c[s] != 0 {
			t.Errorf("after recovery %d jobs are %s", c[s], s)
		}
	}
}
