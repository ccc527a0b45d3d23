package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/redistest"
	"github.com/sevra/atlas/jobq"
)

// clock is an injected clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// eachBackend runs fn on SQLite and on the shared test Redis.
func eachBackend(t *testing.T, fn func(t *testing.T, drv jobq.Backend)) {
	t.Run("sqlite", func(t *testing.T) {
		drv, err := openBackend(t.Context(), "sqlite", filepath.Join(t.TempDir(), "q.db"), "faults")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = drv.Close() })
		fn(t, drv)
	})
	t.Run("redis", func(t *testing.T) {
		c := redistest.Client(t)
		prefix := redistest.Prefix(t, c, "faults-poison")
		drv, err := openBackend(t.Context(), "redis", os.Getenv("ATLAS_TEST_REDIS_URL"), prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = drv.Close() })
		fn(t, drv)
	})
}

// waitFor polls cond (which describes what is missing, or returns "")
// until it holds or 20 s pass.
func waitFor(t *testing.T, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPoisonJob: a handler that always fails, under Atlas's media queue
// settings, is retried after 1, 2, 4 and 8 s of the injected clock (not a
// millisecond earlier), then lands in failed with one stack entry per
// attempt, and stays there for 7 days.
func TestPoisonJob(t *testing.T) {
	eachBackend(t, func(t *testing.T, drv jobq.Backend) {
		ctx := t.Context()
		clk := &clock{now: time.Now().Truncate(time.Second)}
		q := jobq.NewQueue(fmt.Sprintf("poison-%d", rand.Uint32()), drv, &jobq.QueueConfig{Clock: clk.Now})
		var calls atomic.Int32
		w, err := jobq.NewWorker(q.Name(), drv, func(ctx context.Context, j *jobq.Job) (any, error) {
			calls.Add(1)
			return nil, errors.New("poison: cannot decode payload")
		}, &jobq.WorkerConfig{Clock: clk.Now, DrainDelay: 50 * time.Millisecond, LockDuration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close(context.Background()) })
		opts := queues.DefaultSettings(queues.QueueMedia, 2).Defaults
		j, err := q.Add(ctx, "generate-variants", map[string]int{"mediaId": 1}, &opts)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			waitFor(t, func() string {
				cur, err := q.GetJob(ctx, j.ID)
				if err != nil {
					return err.Error()
				}
				s, _ := cur.State(ctx)
				if cur.AttemptsMade != i+1 || s != jobq.StateDelayed {
					return fmt.Sprintf("attempts %d state %s, want %d delayed", cur.AttemptsMade, s, i+1)
				}
				return ""
			})
			clk.Advance(d - time.Millisecond)
			time.Sleep(300 * time.Millisecond)
			if n := calls.Load(); int(n) != i+1 {
				t.Fatalf("attempt %d ran before its %s backoff ended", n, d)
			}
			clk.Advance(time.Millisecond)
		}
		failed := jobIn(t, q, j.ID, jobq.StateFailed)
		if failed.AttemptsMade != 5 || calls.Load() != 5 || len(failed.Stacktrace) != 5 ||
			failed.FailedReason != "poison: cannot decode payload" {
			t.Fatalf("failed job: attempts %d, calls %d, %d stack entries, reason %q; want 5, 5, 5, the error",
				failed.AttemptsMade, calls.Load(), len(failed.Stacktrace), failed.FailedReason)
		}
		for _, s := range failed.Stacktrace {
			if !strings.Contains(s, "poison: cannot decode payload") {
				t.Errorf("stack entry %q lacks the error", s)
			}
		}
		// Retention: failing another job 1 s before the week is over keeps
		// the poison job; failing one 1 s after it removes it.
		one := opts
		one.Attempts = 1
		clk.Advance(7*24*time.Hour - time.Second)
		fail := func(name string) {
			k, err := q.Add(ctx, name, nil, &one)
			if err != nil {
				t.Fatal(err)
			}
			jobIn(t, q, k.ID, jobq.StateFailed)
		}
		fail("probe-day-7-minus-1s")
		if _, err := q.GetJob(ctx, j.ID); err != nil {
			t.Fatalf("poison job gone before 7 days: %v", err)
		}
		clk.Advance(2 * time.Second)
		fail("probe-day-7-plus-1s")
		if _, err := q.GetJob(ctx, j.ID); !errors.Is(err, jobq.ErrJobNotFound) {
			t.Fatalf("poison job still there 7 days + 1 s after it failed: %v", err)
		}
		record(t, row{Scenario: "poison job (always fails)", Backend: backendName(t), Offered: 1, Completed: 0,
			Lost: 0, Notes: "5 attempts at +1, +2, +4, +8 s (injected clock, none early); failed with 5 stack entries; kept 7 days, removed after"})
	})
}

// TestPanickingHandler: a handler that panics fails its job (the panic and
// its goroutine stack in the stack trace) and the same worker goes on to
// complete the next job.
func TestPanickingHandler(t *testing.T) {
	eachBackend(t, func(t *testing.T, drv jobq.Backend) {
		ctx := t.Context()
		q := jobq.NewQueue(fmt.Sprintf("panic-%d", rand.Uint32()), drv, nil)
		w, err := jobq.NewWorker(q.Name(), drv, func(ctx context.Context, j *jobq.Job) (any, error) {
			if j.Name == "boom" {
				var m map[string]int
				m["nil map"]++ // a real runtime panic
			}
			return "ok", nil
		}, &jobq.WorkerConfig{DrainDelay: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close(context.Background()) })
		boom, err := q.Add(ctx, "boom", nil, &jobq.JobOptions{Attempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		got := jobIn(t, q, boom.ID, jobq.StateFailed)
		if len(got.Stacktrace) != 1 || !strings.Contains(got.Stacktrace[0], "assignment to entry in nil map") ||
			!strings.Contains(got.Stacktrace[0], "goroutine ") {
			t.Errorf("stack trace %q: want the panic and its goroutine stack", got.Stacktrace)
		}
		next, err := q.Add(ctx, "fine", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		jobIn(t, q, next.ID, jobq.StateCompleted)
		record(t, row{Scenario: "panicking handler", Backend: backendName(t), Offered: 2, Completed: 1,
			Notes: "the panicking job failed with the panic and its stack; the same worker completed the next job"})
	})
}

// jobIn waits until job id is in state want and returns it as read after
// that (a job read first and its state asked second can disagree).
func jobIn(t *testing.T, q *jobq.Queue, id string, want jobq.State) *jobq.Job {
	t.Helper()
	var got *jobq.Job
	waitFor(t, func() string {
		cur, err := q.GetJob(t.Context(), id)
		if err != nil {
			return err.Error()
		}
		if s, _ := cur.State(t.Context()); s != want {
			return fmt.Sprintf("job %s is %s after %d attempts, want %s", id, s, cur.AttemptsMade, want)
		}
		if got, err = q.GetJob(t.Context(), id); err != nil {
			return err.Error()
		}
		return ""
	})
	return got
}

// backendName is the subtest's last name element (sqlite, redis).
func backendName(t *testing.T) string {
	n := t.Name()
	return n[strings.LastIndex(n, "/")+1:]
}
