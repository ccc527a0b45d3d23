package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/jobq"
)

// loadRig runs producers and workers against a Redis queue, opened the way
// Atlas opens it (queues.OpenBackend), and records every acknowledgement
// and every processed job.
type loadRig struct {
	t        *testing.T
	q        *jobq.Queue
	workers  []*jobq.Worker
	addLimit time.Duration // each Add's context deadline

	mu       sync.Mutex
	offered  map[string]bool
	acked    map[string]time.Time
	done     map[string]int
	addErrs  int
	maxAdd   time.Duration // slowest Add call, failed or not
	firstAck []time.Time   // successful Add times, for recovery
	doneAt   []time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

func newLoadRig(t *testing.T, redisURL string) *loadRig {
	ctx := t.Context()
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{RedisURL: redisURL, RedisPrefix: "faults"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	r := &loadRig{t: t, q: jobq.NewQueue(fmt.Sprintf("load-%d", rand.Uint32()), b.Driver, nil),
		addLimit: time.Second, offered: map[string]bool{}, acked: map[string]time.Time{}, done: map[string]int{},
		stop: make(chan struct{})}
	for range 2 {
		w, err := jobq.NewWorker(r.q.Name(), b.Driver, func(ctx context.Context, j *jobq.Job) (any, error) {
			time.Sleep(2 * time.Millisecond)
			r.mu.Lock()
			r.done[j.ID]++
			r.doneAt = append(r.doneAt, time.Now())
			r.mu.Unlock()
			return nil, nil
		}, &jobq.WorkerConfig{Concurrency: 8, LockDuration: 2 * time.Second, StalledInterval: time.Second,
			MaxStalledCount: 100, DrainDelay: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		r.workers = append(r.workers, w)
	}
	return r
}

// produce starts n producers; each adds jobs with its own ids, retrying an
// id until it is acknowledged or the rig stops.
func (r *loadRig) produce(n int) {
	for p := range n {
		r.wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("p%d-%d", p, i)
				r.mu.Lock()
				r.offered[id] = true
				r.mu.Unlock()
				for {
					select {
					case <-r.stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), r.addLimit)
					start := time.Now()
					_, err := r.q.Add(ctx, "j", nil, &jobq.JobOptions{JobID: id})
					cancel()
					now := time.Now()
					r.mu.Lock()
					r.maxAdd = max(r.maxAdd, now.Sub(start))
					if err == nil {
						r.acked[id] = now
						r.firstAck = append(r.firstAck, now)
					} else {
						r.addErrs++
					}
					r.mu.Unlock()
					if err == nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// halt stops the producers and fails the test if one does not return
// within bound (a deadlock).
func (r *loadRig) halt(bound time.Duration) {
	close(r.stop)
	ch := make(chan struct{})
	go func() { r.wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(bound):
		r.t.Fatalf("producers did not stop within %s", bound)
	}
}

// drain waits until every acknowledged job was processed or is missing
// from Redis, and returns the acknowledged ids that were never processed.
func (r *loadRig) drain(timeout time.Duration) (lost []string) {
	ctx := r.t.Context()
	deadline := time.Now().Add(timeout)
	for {
		c, err := r.q.GetJobCounts(ctx, jobq.StateWaiting, jobq.StateActive, jobq.StateDelayed)
		if err == nil && c[jobq.StateWaiting]+c[jobq.StateActive]+c[jobq.StateDelayed] == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("queue not drained within %s: %v %v", timeout, c, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range r.workers {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := w.Close(cctx); err != nil {
			r.t.Errorf("worker close: %v", err)
		}
		cancel()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.acked {
		if r.done[id] == 0 {
			lost = append(lost, id)
		}
	}
	return lost
}

// firstAfter returns the first time in ts after t0 (zero if none).
func firstAfter(ts []time.Time, t0 time.Time) time.Time {
	for _, x := range ts {
		if x.After(t0) {
			return x
		}
	}
	return time.Time{}
}

func (r *loadRig) duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.done {
		if c > 1 {
			n++
		}
	}
	return n
}

// TestRedisKillAOFRestart: SIGKILL the Redis server mid-load and restart
// it from its AOF (appendfsync everysec) a second later. Producers and
// workers reconnect by themselves; every job acknowledged more than 1 s
// before the kill is processed; only jobs acknowledged within the last
// second may be lost, as everysec allows.
func TestRedisKillAOFRestart(t *testing.T) {
	rds := startAOFRedis(t)
	r := newLoadRig(t, rds.url())
	r.produce(4)
	load := pick(3*time.Second, 20*time.Second)
	time.Sleep(load)
	killAt := time.Now()
	rds.kill()
	time.Sleep(time.Second)
	restartAt := time.Now()
	rds.start()
	time.Sleep(load)
	r.halt(10 * time.Second)
	lost := r.drain(pick(time.Minute, 5*time.Minute))

	r.mu.Lock()
	offered, acked := len(r.offered), len(r.acked)
	var beforeWindow int
	for _, id := range lost {
		if r.acked[id].Before(killAt.Add(-time.Second)) {
			beforeWindow++
			t.Errorf("job %s acknowledged at %s, %s before the kill, was lost", id, r.acked[id].Format(time.StampMilli), killAt.Sub(r.acked[id]))
		}
	}
	ackBack, doneBack := firstAfter(r.firstAck, restartAt), firstAfter(r.doneAt, restartAt)
	r.mu.Unlock()
	if ackBack.IsZero() || doneBack.IsZero() {
		t.Fatalf("no job was acknowledged (%v) or processed (%v) after the restart", ackBack, doneBack)
	}
	recovery := max(ackBack.Sub(restartAt), doneBack.Sub(restartAt))
	record(t, row{Scenario: "Redis SIGKILL + AOF restart", Backend: "redis (jobq)",
		Offered: acked, Completed: acked - len(lost), Duplicated: r.duplicates(), Lost: len(lost),
		Recovery: recovery,
		Notes: fmt.Sprintf("offered = acknowledged adds (%d more cut by the halt); lost: acknowledged in the last 1 s before the kill (everysec) %d of %d; recovery = restart → first add and first completion; %d failed adds retried",
			offered-acked, len(lost)-beforeWindow, len(lost), r.addErrs)})
}

// TestRedisStopped: SIGSTOP the Redis server for 10 s (short mode: 4 s)
// under load. Every Add returns within its deadline plus the client's read
// timeout (nothing hangs), nothing deadlocks, and after SIGCONT every
// acknowledged job is processed; nothing is lost.
func TestRedisStopped(t *testing.T) {
	rds := startAOFRedis(t)
	r := newLoadRig(t, rds.url())
	r.produce(4)
	time.Sleep(2 * time.Second)
	hold := pick(4*time.Second, 10*time.Second)
	rds.signal(syscall.SIGSTOP)
	time.Sleep(hold)
	contAt := time.Now()
	rds.signal(syscall.SIGCONT)
	time.Sleep(2 * time.Second)
	r.halt(10 * time.Second)
	lost := r.drain(pick(time.Minute, 3*time.Minute))

	r.mu.Lock()
	offered, acked, maxAdd := len(r.offered), len(r.acked), r.maxAdd
	ackBack := firstAfter(r.firstAck, contAt)
	r.mu.Unlock()
	// go-redis's default read timeout is 3 s; the queue's client does not
	// cut a command at the caller's deadline, so a call may take that long.
	const addBound = 4 * time.Second
	if maxAdd > addBound {
		t.Errorf("slowest Add took %s with Redis stopped, want at most %s", maxAdd, addBound)
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged jobs never processed after SIGCONT: %v", len(lost), lost[:min(5, len(lost))])
	}
	if ackBack.IsZero() {
		t.Fatal("no job acknowledged after SIGCONT")
	}
	record(t, row{Scenario: fmt.Sprintf("Redis SIGSTOP %s", hold), Backend: "redis (jobq)",
		Offered: acked, Completed: acked - len(lost), Duplicated: r.duplicates(), Lost: len(lost),
		Recovery: ackBack.Sub(contAt),
		Notes: fmt.Sprintf("offered = acknowledged adds (%d more cut by the halt); slowest Add %s (deadline %s); %d adds timed out and were retried",
			offered-acked, maxAdd.Round(time.Millisecond), r.addLimit, r.addErrs)})
}
