package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq"
)

// stateRow is the memory of n jobs of one queue in one state.
type stateRow struct {
	Queue, State string
	N            int
	Keys         keyBytes // MEMORY USAGE sums after the step
	UsedDelta    int64    // used_memory after − before the jobs were added
}

// PerJob is the bytes per job in the state, events and metrics apart.
func (r stateRow) PerJob() float64 { return float64(r.Keys.Jobs) / float64(r.N) }

// PerEvent is the bytes per entry of the events stream.
func (r stateRow) PerEvent() float64 {
	if r.Keys.EventsLen == 0 {
		return 0
	}
	return float64(r.Keys.Events) / float64(r.Keys.EventsLen)
}

// measureStates puts n jobs of each queue into each state, each (queue,
// state) under a prefix of its own, and sums their keys.
func measureStates(ctx context.Context, c *redis.Client, _ string, n int) ([]stateRow, error) {
	var rows []stateRow
	for _, s := range shapes {
		for _, state := range []string{"ready", "delayed", "active", "completed", "failed"} {
			row, err := measureState(ctx, c, s, state, n)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", s.queue, state, err)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func measureState(ctx context.Context, c *redis.Client, s shape, state string, n int) (stateRow, error) {
	prefix := "s-" + s.queue + "-" + state
	drv, err := driver(c, prefix)
	if err != nil {
		return stateRow{}, err
	}
	defer drv.Close()
	if state == "active" {
		n = min(n, 200) // active is bounded by total worker concurrency
	}
	r := rand.New(rand.NewPCG(1, uint64(len(state))))
	q := jobq.NewQueue(s.queue, drv, nil)
	before, err := usedMemory(ctx, c)
	if err != nil {
		return stateRow{}, err
	}
	jobs := s.bulk(r, 0, n, func(int) bool { return state == "failed" }, true)
	if state == "delayed" {
		for _, j := range jobs {
			j.Opts.Delay = time.Hour
		}
	}
	if state == "failed" {
		for _, j := range jobs {
			j.Opts.Attempts = 1 // the final failure; retries leave the same hash behind
		}
	}
	for i := 0; i < len(jobs); i += 500 {
		if _, err := q.AddBulk(ctx, jobs[i:min(i+500, len(jobs))]); err != nil {
			return stateRow{}, err
		}
	}
	switch state {
	case "active":
		release := make(chan struct{})
		w, err := jobq.NewWorker(s.queue, drv, func(ctx context.Context, _ *jobq.Job) (any, error) {
			<-release
			return s.result, nil
		}, &jobq.WorkerConfig{Concurrency: n, MetricsMaxDataPoints: 60 * 24 * 7})
		if err != nil {
			return stateRow{}, err
		}
		if err := w.Start(ctx); err != nil {
			return stateRow{}, err
		}
		err = waitCount(ctx, q, jobq.StateActive, int64(n))
		var row stateRow
		if err == nil {
			row, err = finishRow(ctx, c, s, state, n, prefix, before)
		}
		close(release)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = w.Close(cctx)
		return row, err
	case "completed", "failed":
		d := defaults(s.queue)
		w, err := jobq.NewWorker(s.queue, drv, s.handler(), &jobq.WorkerConfig{Concurrency: 50,
			RemoveOnComplete: d.RemoveOnComplete, RemoveOnFail: d.RemoveOnFail, MetricsMaxDataPoints: 60 * 24 * 7})
		if err != nil {
			return stateRow{}, err
		}
		if err := w.Start(ctx); err != nil {
			return stateRow{}, err
		}
		err = waitCount(ctx, q, jobq.State(state), int64(n))
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if cerr := w.Close(cctx); err == nil {
			err = cerr
		}
		if err != nil {
			return stateRow{}, err
		}
	}
	return finishRow(ctx, c, s, state, n, prefix, before)
}

func finishRow(ctx context.Context, c *redis.Client, s shape, state string, n int, prefix string, before int64) (stateRow, error) {
	after, err := usedMemory(ctx, c)
	if err != nil {
		return stateRow{}, err
	}
	kb, err := sumKeys(ctx, c, prefix)
	if err != nil {
		return stateRow{}, err
	}
	if state == "ready" {
		state = "waiting"
		if defaults(s.queue).Priority > 0 {
			state = "prioritized"
		}
	}
	return stateRow{Queue: s.queue, State: state, N: n, Keys: kb, UsedDelta: after - before}, nil
}

// waitCount waits (60 s at most) until q has want jobs in state.
func waitCount(ctx context.Context, q *jobq.Queue, state jobq.State, want int64) error {
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := q.GetJobCounts(ctx, state)
		if err != nil {
			return err
		}
		if c[state] == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d jobs %s after 60s, want %d", q.Name(), c[state], state, want)
		}
	}
}
