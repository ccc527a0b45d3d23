package jobq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// fetchLoop takes jobs while slots are free and hands each to a goroutine.
func (w *Worker) fetchLoop(ctx context.Context) {
	errDelay := 50 * time.Millisecond
	for {
		// Take one slot (blocking), then any others that are free.
		select {
		case <-ctx.Done():
			return
		case w.slots <- struct{}{}:
		}
		n := 1
	more:
		for n < w.cfg.BatchSize {
			select {
			case w.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		// A completion's fetch-next that found the queue empty stands for
		// this fetch: go straight to waiting (see Worker.emptyFetch).
		if h := w.emptyFetch.Swap(nil); h != nil {
			w.release(n)
			if !w.idle(ctx, *h, &errDelay) {
				return
			}
			continue
		}
		res, err := w.drv.Fetch(ctx, w.fetchParams(n))
		if err != nil {
			w.release(n)
			if ctx.Err() != nil {
				return
			}
			w.reportErr(fmt.Errorf("jobq: fetch from %s: %w", w.queue, err))
			if !sleep(ctx, errDelay) {
				return
			}
			errDelay = min(errDelay*2, 5*time.Second)
			continue
		}
		errDelay = 50 * time.Millisecond
		w.release(n - len(res.Jobs))
		for _, rj := range res.Jobs {
			w.startJob(rj)
		}
		if len(res.Jobs) > 0 {
			continue
		}
		if !w.idle(ctx, res, &errDelay) {
			return
		}
	}
}

// idle waits after a fetch that returned no job: out the rate limit, or on
// the waiter until work may be ready (at the latest the next delayed job
// or DrainDelay). It returns false when ctx ends.
func (w *Worker) idle(ctx context.Context, res jobqdriver.FetchResult, errDelay *time.Duration) bool {
	defer w.emptyFetch.Store(nil) // a hint from before the wait is stale
	if res.RateLimitDelay > 0 {
		return sleep(ctx, min(time.Duration(res.RateLimitDelay)*time.Millisecond, 30*time.Second))
	}
	timeout := w.cfg.DrainDelay
	if res.NextDelayed > 0 {
		until := time.Duration(res.NextDelayed-w.now()) * time.Millisecond
		timeout = max(min(timeout, until), time.Millisecond)
	}
	if err := w.waiter.Wait(ctx, timeout); err != nil {
		if ctx.Err() != nil {
			return false
		}
		w.reportErr(fmt.Errorf("jobq: wait on %s: %w", w.queue, err))
		if !sleep(ctx, *errDelay) {
			return false
		}
		*errDelay = min(*errDelay*2, 5*time.Second)
	}
	return true
}

// fetchParams asks for up to n jobs.
func (w *Worker) fetchParams(n int) jobqdriver.FetchParams {
	p := jobqdriver.FetchParams{
		Queue: w.queue, WorkerName: w.cfg.Name, LockDuration: w.cfg.LockDuration.Milliseconds(),
		Now: w.now(), Tokens: make([]string, n),
	}
	for i := range p.Tokens {
		p.Tokens[i] = w.token()
	}
	if l := w.cfg.Limiter; l != nil {
		p.Limiter = &jobqdriver.Limiter{Max: l.Max, Duration: l.Duration.Milliseconds()}
	}
	return p
}

func (w *Worker) release(n int) {
	for range n {
		<-w.slots
	}
}

func (w *Worker) startJob(rj *jobqdriver.Job) { w.launch(rj, false) }

// jobTask is a job handed to a runner goroutine.
type jobTask struct {
	rj      *jobqdriver.Job
	acquire bool
	ctx     context.Context
	cancel  context.CancelCauseFunc
}

// runnerIdle is how long a runner goroutine waits for its next job before
// it exits.
const runnerIdle = 10 * time.Second

// launch runs a fetched job on a runner goroutine. The job either already
// holds a slot (taken by the fetch loop, or handed over by a finished job)
// or, with acquire, waits for one first.
//
// Runners outlive their job: a runner that finished one waits up to
// runnerIdle for the next, and launch hands the job to a waiting runner
// before it starts a new one. A processor that decodes JSON or calls a
// database driver grows its goroutine's stack to several KB; a fresh
// goroutine per job paid that growth (a stack copy) on every job, about
// a sixth of the worker's CPU in the queue benchmark's burn-down. There
// are never more runners than jobs launched at once plus those idle, and
// idle ones are at most the peak of jobs in flight (Concurrency, plus jobs
// waiting for a slot).
func (w *Worker) launch(rj *jobqdriver.Job, acquire bool) {
	jctx, cancel := context.WithCancelCause(w.jobsCtx)
	w.mu.Lock()
	w.active[rj.ID] = &activeJob{token: rj.Token, cancel: cancel}
	w.mu.Unlock()
	w.jobsWG.Add(1)
	t := jobTask{rj: rj, acquire: acquire, ctx: jctx, cancel: cancel}
	select {
	case w.tasks <- t:
	default:
		w.runnersWG.Add(1)
		go w.runner(t)
	}
}

// runner runs t, then the jobs launch hands it, until it has been idle
// for runnerIdle or the worker has stopped (Close closes runnersStop once
// no job can be launched any more).
func (w *Worker) runner(t jobTask) {
	defer w.runnersWG.Done()
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		w.runTask(t)
		idle.Reset(runnerIdle)
		select {
		case t = <-w.tasks:
		case <-idle.C:
			return
		case <-w.runnersStop:
			return
		}
	}
}

// runTask processes one launched job and frees what it held.
func (w *Worker) runTask(t jobTask) {
	defer w.jobsWG.Done()
	if t.acquire {
		w.slots <- struct{}{}
	}
	slot := &jobSlot{}
	defer func() {
		if !slot.handedOver.Load() {
			<-w.slots
		}
	}()
	defer func() {
		w.mu.Lock()
		delete(w.active, t.rj.ID)
		w.mu.Unlock()
		t.cancel(nil)
	}()
	job := fromDriver(w.drv, t.rj)
	job.slot = slot
	w.run(t.ctx, job)
}

// run processes one job and records its outcome.
func (w *Worker) run(ctx context.Context, job *Job) {
	if job.raw.DeferredFailure != "" {
		w.fail(ctx, job, errors.New(job.raw.DeferredFailure), false)
		return
	}
	if job.RepeatJobKey != "" {
		if err := scheduleNext(ctx, w.drv, job.raw, w.now()); err != nil {
			w.reportErr(fmt.Errorf("jobq: schedule next run of %s: %w", job.RepeatJobKey, err))
		}
	}
	result, err := w.call(ctx, job)
	if err == nil {
		b, merr := encodeData(result)
		if result == nil {
			b = []byte("null")
		}
		if merr != nil {
			err = Unrecoverable(fmt.Errorf("encode result: %w", merr))
		} else {
			w.complete(job, b)
			return
		}
	}
	var de *DelayError
	var rl *RateLimitError
	switch {
	case errors.As(err, &de):
		if e := w.drv.MoveToDelayed(context.Background(), w.queue, job.ID, job.token, de.Until.UnixMilli(), w.now()); e != nil {
			w.reportErr(fmt.Errorf("jobq: delay job %s: %w", job.ID, e))
		}
	case errors.As(err, &rl):
		if e := w.drv.RateLimit(context.Background(), w.queue, rl.Wait); e != nil {
			w.reportErr(fmt.Errorf("jobq: rate limit %s: %w", w.queue, e))
		}
		if e := w.drv.Release(context.Background(), w.queue, job.ID, job.token, w.now()); e != nil {
			w.reportErr(fmt.Errorf("jobq: release job %s: %w", job.ID, e))
		}
	case errors.Is(context.Cause(ctx), errClosing):
		// The worker is shutting down: hand the job back untouched.
		if e := w.drv.Release(context.Background(), w.queue, job.ID, job.token, w.now()); e != nil {
			w.reportErr(fmt.Errorf("jobq: release job %s: %w", job.ID, e))
		}
	default:
		w.fail(ctx, job, err, true)
	}
}

// call runs the processor, turning a panic into an error.
func (w *Worker) call(ctx context.Context, job *Job) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("jobq: processor panic: %v\n%s", r, debug.Stack())
		}
	}()
	return w.proc(ctx, job)
}

func (w *Worker) complete(job *Job, result []byte) {
	keep := job.Opts.RemoveOnComplete
	if keep == nil {
		keep = w.cfg.RemoveOnComplete
	}
	p := jobqdriver.FinishParams{
		Queue: w.queue, ID: job.ID, Token: job.token, ReturnValue: result,
		Keep: keep, MetricsMaxDataPoints: w.cfg.MetricsMaxDataPoints, Now: w.now(),
	}
	plainHint(&p, job)
	err := w.finishOne(p, job.slot)
	if errors.Is(err, ErrPendingChildren) {
		// A parent started early (a child failed with ChildFailureContinue)
		// may not complete while other children are pending: this attempt
		// fails, as in BullMQ, and retries if attempts are left.
		w.fail(context.Background(), job, err, true)
		return
	}
	if err != nil {
		w.reportErr(fmt.Errorf("jobq: complete job %s: %w", job.ID, err))
		return
	}
	job.ReturnValue = result
	if w.cfg.OnCompleted != nil {
		w.cfg.OnCompleted(job, result)
	}
}

// fail retries the job or moves it to failed.
func (w *Worker) fail(ctx context.Context, job *Job, cause error, mayRetry bool) {
	attempts := max(job.Opts.Attempts, 1)
	var unrec *UnrecoverableError
	if errors.As(cause, &unrec) {
		mayRetry = false
	}
	if c := context.Cause(ctx); errors.Is(c, ErrLockLost) {
		// Another worker may own the job now; recording anything would
		// race with it.
		w.reportErr(fmt.Errorf("jobq: job %s: %w: %v", job.ID, ErrLockLost, cause))
		return
	}
	reason := cause.Error()
	stack := append(append([]string(nil), job.Stacktrace...), fmt.Sprintf("%+v", cause))
	if len(stack) > 10 {
		stack = stack[len(stack)-10:]
	}
	if mayRetry && job.AttemptsMade+1 < attempts {
		delay, retry := w.backoff(job, cause)
		if retry {
			err := w.drv.Retry(context.Background(), jobqdriver.RetryParams{
				Queue: w.queue, ID: job.ID, Token: job.token, Delay: delay.Milliseconds(),
				FailedReason: reason, Stacktrace: stack, Now: w.now(),
			})
			if err != nil {
				w.reportErr(fmt.Errorf("jobq: retry job %s: %w", job.ID, err))
			}
			w.onFailed(job, cause)
			return
		}
	}
	keep := job.Opts.RemoveOnFail
	if keep == nil {
		keep = w.cfg.RemoveOnFail
	}
	p := jobqdriver.FinishParams{
		Queue: w.queue, ID: job.ID, Token: job.token, Failed: true,
		FailedReason: reason, Stacktrace: stack, Keep: keep,
		RetriesExhausted:     mayRetry && job.AttemptsMade+1 >= attempts,
		MetricsMaxDataPoints: w.cfg.MetricsMaxDataPoints, Now: w.now(),
	}
	plainHint(&p, job)
	err := w.finishOne(p, job.slot)
	if err != nil {
		w.reportErr(fmt.Errorf("jobq: fail job %s: %w", job.ID, err))
	}
	w.onFailed(job, cause)
}

// plainHint fills p.Plain and p.AttemptsMade from the job as fetched (not
// from its exported fields, which the processor may have changed).
func plainHint(p *jobqdriver.FinishParams, job *Job) {
	r := job.raw
	if r == nil || r.ParentKey != "" || r.Parent != nil || r.DeduplicationID != "" {
		return
	}
	p.Plain, p.AttemptsMade = true, r.AttemptsMade
}

func (w *Worker) onFailed(job *Job, err error) {
	job.FailedReason = err.Error()
	if w.cfg.OnFailed != nil {
		w.cfg.OnFailed(job, err)
	}
}

// backoff returns the delay before the next attempt, and false when the
// custom strategy says not to retry.
func (w *Worker) backoff(job *Job, cause error) (time.Duration, bool) {
	b := job.Opts.Backoff
	if b == nil {
		return 0, true
	}
	made := job.AttemptsMade + 1
	var d time.Duration
	switch b.Type {
	case BackoffFixed, "":
		d = jitter(b.Delay, b.Jitter)
	case BackoffExponential:
		d = jitter(time.Duration(math.Round(math.Pow(2, float64(made-1))*float64(b.Delay))), b.Jitter)
	default:
		if w.cfg.BackoffStrategy == nil {
			return 0, true
		}
		d = w.cfg.BackoffStrategy(made, string(b.Type), cause, job)
		if d < 0 {
			return 0, false
		}
	}
	return d, true
}

// jitter spreads d over [d·(1−j), d].
func jitter(d time.Duration, j float64) time.Duration {
	if j <= 0 || d <= 0 {
		return d
	}
	return time.Duration(float64(d)*(1-j) + rand.Float64()*float64(d)*j)
}
