package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqredis"
	"github.com/sevra/atlas/jobq/jobqsqlite"
)

// jobqC is Atlas's jobq on Redis or SQLite.
type jobqC struct {
	name string
	s    *Spec
	drv  jobq.Backend
	q    *jobq.Queue
	ws   []*jobq.Worker
	opts *jobq.JobOptions
}

func (c *jobqC) setup(ctx context.Context, s *Spec) error {
	c.s = s
	quiet := slog.New(slog.DiscardHandler)
	var err error
	switch c.name {
	case "jobq-redis":
		c.drv, err = jobqredis.Open(ctx, fmt.Sprintf("redis://%s/%d", s.RedisAddr, s.RedisDB), &jobqredis.Config{Logger: quiet})
	case "jobq-sqlite":
		c.drv, err = jobqsqlite.Open(ctx, s.SQLite, &jobqsqlite.Config{Logger: quiet})
	}
	if err != nil {
		return err
	}
	c.q = jobq.NewQueue(s.Queue, c.drv, nil)
	c.opts = &jobq.JobOptions{}
	if !s.Keep {
		c.opts.RemoveOnComplete = jobq.RemoveAll()
	}
	if s.Attempts > 1 {
		c.opts.Attempts = s.Attempts
		c.opts.Backoff = &jobq.Backoff{Type: jobq.BackoffFixed, Delay: time.Duration(s.BackoffMS) * time.Millisecond}
	}
	return nil
}

func (c *jobqC) add(ctx context.Context, p payload, delay time.Duration) error {
	b, _ := json.Marshal(p)
	o := c.opts
	if delay > 0 {
		oo := *o
		oo.Delay = delay
		o = &oo
	}
	_, err := c.q.Add(ctx, "bench", b, o)
	return err
}

func (c *jobqC) addBulk(ctx context.Context, ps []payload) error {
	jobs := make([]jobq.BulkJob, len(ps))
	for i, p := range ps {
		b, _ := json.Marshal(p)
		jobs[i] = jobq.BulkJob{Name: "bench", Data: b, Opts: c.opts}
	}
	_, err := c.q.AddBulk(ctx, jobs)
	return err
}

// startWorker starts Spec.Workers workers (at least one) of concurrency
// conc on the queue, all on the one driver (one process).
func (c *jobqC) startWorker(ctx context.Context, conc int, h handler) error {
	for range max(c.s.Workers, 1) {
		w, err := jobq.NewWorker(c.s.Queue, c.drv, func(ctx context.Context, j *jobq.Job) (any, error) {
			var p payload
			if err := json.Unmarshal(j.Data, &p); err != nil {
				return nil, jobq.Unrecoverable(err)
			}
			return nil, h(p, j.AttemptsMade+1)
		}, &jobq.WorkerConfig{Concurrency: conc, OnError: func(err error) { fmt.Fprintln(os.Stderr, "jobq worker:", err) }})
		if err != nil {
			return err
		}
		c.ws = append(c.ws, w)
		if err := w.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (c *jobqC) settle(ctx context.Context) error {
	for {
		m, err := c.q.GetJobCounts(ctx, jobq.StateWaiting, jobq.StateActive, jobq.StateDelayed, jobq.StatePrioritized)
		if err != nil {
			return err
		}
		if m[jobq.StateWaiting]+m[jobq.StateActive]+m[jobq.StateDelayed]+m[jobq.StatePrioritized] == 0 {
			return nil
		}
		if !sleepCtx(ctx, 2*time.Millisecond) {
			return ctx.Err()
		}
	}
}

func (c *jobqC) close() {
	for _, w := range c.ws {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = w.Close(ctx)
		cancel()
	}
	if c.drv != nil {
		_ = c.drv.Close()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
