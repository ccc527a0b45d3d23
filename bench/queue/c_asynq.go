package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// asynqC is hibiken/asynq v0.26 with default polling settings (an idle
// processor sleeps TaskCheckInterval = 1 s; scheduled and retry tasks are
// forwarded every DelayedTaskCheckInterval = 5 s).
type asynqC struct {
	s    *Spec
	opt  asynq.RedisClientOpt
	cli  *asynq.Client
	srv  *asynq.Server
	insp *asynq.Inspector
	opts []asynq.Option
}

func (c *asynqC) setup(ctx context.Context, s *Spec) error {
	c.s = s
	c.opt = asynq.RedisClientOpt{Addr: s.RedisAddr, DB: s.RedisDB, PoolSize: max(10, s.Conc+10)}
	c.cli = asynq.NewClient(c.opt)
	c.insp = asynq.NewInspector(c.opt)
	c.opts = []asynq.Option{asynq.Queue(s.Queue), asynq.MaxRetry(max(s.Attempts-1, 0))}
	if s.Keep {
		c.opts = append(c.opts, asynq.Retention(24*time.Hour))
	}
	return c.cli.Ping()
}

func (c *asynqC) add(ctx context.Context, p payload, delay time.Duration) error {
	b, _ := json.Marshal(p)
	opts := c.opts
	if delay > 0 {
		opts = append(append([]asynq.Option(nil), c.opts...), asynq.ProcessIn(delay))
	}
	_, err := c.cli.EnqueueContext(ctx, asynq.NewTask("bench", b), opts...)
	return err
}

func (c *asynqC) addBulk(ctx context.Context, ps []payload) error { return errNA }

type quietLogger struct{}

func (quietLogger) Debug(args ...any) {}
func (quietLogger) Info(args ...any)  {}
func (quietLogger) Warn(args ...any)  {}
func (quietLogger) Error(args ...any) {}
func (quietLogger) Fatal(args ...any) {}

func (c *asynqC) startWorker(ctx context.Context, conc int, h handler) error {
	backoff := time.Duration(c.s.BackoffMS) * time.Millisecond
	c.srv = asynq.NewServer(c.opt, asynq.Config{
		Concurrency:     conc,
		Queues:          map[string]int{c.s.Queue: 1},
		RetryDelayFunc:  func(int, error, *asynq.Task) time.Duration { return backoff },
		Logger:          quietLogger{},
		ShutdownTimeout: 5 * time.Second,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("bench", func(ctx context.Context, t *asynq.Task) error {
		var p payload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
		}
		n, _ := asynq.GetRetryCount(ctx)
		return h(p, n+1)
	})
	return c.srv.Start(mux)
}

func (c *asynqC) settle(ctx context.Context) error {
	for {
		qi, err := c.insp.GetQueueInfo(c.s.Queue)
		if err != nil {
			return err
		}
		if qi.Pending+qi.Active+qi.Scheduled+qi.Retry == 0 {
			return nil
		}
		if !sleepCtx(ctx, 2*time.Millisecond) {
			return ctx.Err()
		}
	}
}

func (c *asynqC) close() {
	if c.srv != nil {
		c.srv.Shutdown()
	}
	c.insp.Close()
	c.cli.Close()
}
