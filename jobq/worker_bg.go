package jobq

import (
	"context"
	"fmt"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// finishReq is one completion handed to the completer.
type finishReq struct {
	p    jobqdriver.FinishParams
	done chan error
}

// finishOne records a completion through the batching completer.
func (w *Worker) finishOne(p jobqdriver.FinishParams) error {
	req := finishReq{p: p, done: make(chan error, 1)}
	w.finish <- req
	return <-req.done
}

// completeLoop batches completions: whatever is queued when it wakes goes
// to the backend in one call.
func (w *Worker) completeLoop() {
	const maxBatch = 100
	batch := make([]finishReq, 0, maxBatch)
	for first := range w.finish {
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-w.finish:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		items := make([]jobqdriver.FinishParams, len(batch))
		for i, r := range batch {
			items[i] = r.p
		}
		var errs []error
		var err error
		for attempt := 0; ; attempt++ {
			errs, _, err = w.drv.Finish(context.Background(), items, nil)
			if err == nil || attempt == 5 {
				break
			}
			w.reportErr(fmt.Errorf("jobq: finish %d jobs: %w", len(items), err))
			time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
		}
		for i, r := range batch {
			switch {
			case err != nil:
				r.done <- err
			case i < len(errs):
				r.done <- errs[i]
			default:
				r.done <- nil
			}
		}
	}
}

// renewLoop extends the locks of active jobs and cancels jobs whose lock
// was lost.
func (w *Worker) renewLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.LockRenewTime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		locks := make([]jobqdriver.Lock, 0, len(w.active))
		for id, a := range w.active {
			locks = append(locks, jobqdriver.Lock{ID: id, Token: a.token})
		}
		w.mu.Unlock()
		if len(locks) == 0 {
			continue
		}
		lost, err := w.drv.ExtendLocks(ctx, w.queue, locks, w.cfg.LockDuration.Milliseconds(), w.now())
		if err != nil {
			if ctx.Err() == nil {
				w.reportErr(fmt.Errorf("jobq: extend locks: %w", err))
			}
			continue
		}
		w.mu.Lock()
		for _, id := range lost {
			if a, ok := w.active[id]; ok {
				a.cancel(ErrLockLost)
			}
		}
		w.mu.Unlock()
	}
}

// stalledLoop runs the stalled-job check now and every StalledInterval.
func (w *Worker) stalledLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.StalledInterval)
	defer t.Stop()
	for {
		res, err := w.drv.CheckStalled(ctx, jobqdriver.StalledParams{
			Queue: w.queue, MaxStalledCount: w.cfg.MaxStalledCount,
			Interval: w.cfg.StalledInterval.Milliseconds(), Now: w.now(),
		})
		switch {
		case err != nil && ctx.Err() == nil:
			w.reportErr(fmt.Errorf("jobq: stalled check: %w", err))
		case len(res.Recovered)+len(res.Failed) > 0:
			w.cfg.Logger.Info("jobq: stalled jobs", "queue", w.queue, "recovered", res.Recovered, "failed", res.Failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
