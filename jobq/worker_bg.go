package jobq

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// finishReq is one completion handed to the completer.
type finishReq struct {
	p    jobqdriver.FinishParams
	slot *jobSlot
	done chan error
}

// jobSlot is a running job's concurrency slot. When the job's completion
// commits, the completer may hand the slot straight to a job it fetched in
// the same backend call; the job's goroutine then does not release it.
type jobSlot struct{ handedOver atomic.Bool }

// finishOne records a completion through the batching completer. slot, if
// not nil, may be handed over to a newly fetched job.
func (w *Worker) finishOne(p jobqdriver.FinishParams, slot *jobSlot) error {
	req := finishReq{p: p, slot: slot, done: make(chan error, 1)}
	w.finish <- req
	return <-req.done
}

// completeLoop batches completions: whatever is queued when it wakes goes
// to the backend in one call, which also fetches as many new jobs as the
// batch frees slots (BullMQ's move-to-finished with fetch-next), unless the
// worker is closing.
func (w *Worker) completeLoop(fetchCtx context.Context) {
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
		freed := 0
		for i, r := range batch {
			items[i] = r.p
			if r.slot != nil {
				freed++
			}
		}
		var next *jobqdriver.FetchParams
		if freed > 0 && fetchCtx.Err() == nil {
			p := w.fetchParams(freed)
			next = &p
		}
		var errs []error
		var fetched jobqdriver.FetchResult
		var err error
		for attempt := 0; ; attempt++ {
			errs, fetched, err = w.drv.Finish(context.Background(), items, next)
			if err == nil || attempt == 5 {
				break
			}
			w.reportErr(fmt.Errorf("jobq: finish %d jobs: %w", len(items), err))
			time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
		}
		if err == nil && next != nil && len(fetched.Jobs) < len(next.Tokens) {
			h := fetched
			h.Jobs = nil
			w.emptyFetch.Store(&h)
		}
		// Hand the slots of committed completions to the fetched jobs;
		// fetched jobs beyond that wait for a slot of their own.
		handed := 0
		for i, r := range batch {
			if handed == len(fetched.Jobs) || err != nil {
				break
			}
			if r.slot != nil && (i >= len(errs) || errs[i] == nil) {
				r.slot.handedOver.Store(true)
				handed++
			}
		}
		for i, rj := range fetched.Jobs {
			w.launch(rj, i >= handed)
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
