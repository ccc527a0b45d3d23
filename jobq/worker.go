package jobq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// Processor runs one job. Its result is stored as the job's return value
// (JSON-encoded). Returning an error fails the attempt; see Unrecoverable,
// DelayUntil and RateLimit for errors with special meaning. ctx is
// cancelled when the worker loses the job's lock or closes past its grace
// period.
type Processor func(ctx context.Context, job *Job) (any, error)

// WorkerConfig configures a Worker. The zero value is valid; each field's
// default is stated in its comment.
type WorkerConfig struct {
	// Name identifies the worker (stored in each job's ProcessedBy).
	// Default: "<hostname>-<pid>-<random>".
	Name string
	// Concurrency is the number of jobs processed at once. Default: 1.
	Concurrency int
	// Limiter rate-limits the queue across all its workers. Default: none.
	Limiter *Limiter
	// LockDuration is how long a job's lock lasts without renewal.
	// Default: 30s.
	LockDuration time.Duration
	// LockRenewTime is how often locks are renewed. Default: LockDuration/2.
	LockRenewTime time.Duration
	// StalledInterval is how often the stalled-job check runs (once per
	// interval across all workers). Default: 30s.
	StalledInterval time.Duration
	// MaxStalledCount is how often a job may stall before it fails.
	// Default: 1. A negative value means 0: the first stall fails it.
	MaxStalledCount int
	// SkipStalledCheck disables this worker's stalled check.
	SkipStalledCheck bool
	// DrainDelay is the longest an idle worker blocks waiting for work
	// before it polls again. Default: 5s.
	DrainDelay time.Duration
	// BatchSize caps how many jobs one fetch takes. Default: Concurrency,
	// at most 50.
	BatchSize int
	// BackoffStrategy computes the delay of custom backoff types (any
	// Backoff.Type other than fixed and exponential). attemptsMade counts
	// the failed attempt. A negative result means "do not retry".
	BackoffStrategy func(attemptsMade int, backoffType string, err error, job *Job) time.Duration
	// RemoveOnComplete and RemoveOnFail apply when the job's own options
	// leave them nil. Default: keep everything.
	RemoveOnComplete, RemoveOnFail *Keep
	// MetricsMaxDataPoints > 0 records per-minute completed/failed counts,
	// keeping that many points. Default: 0 (off).
	MetricsMaxDataPoints int
	// Clock is the worker's clock. Default: time.Now.
	Clock func() time.Time
	// Logger receives diagnostics. Default: discarding.
	Logger *slog.Logger
	// OnCompleted, OnFailed and OnError, when set, are called from the
	// worker's goroutines after a job completes, after an attempt fails
	// (retried or not), and on backend errors.
	OnCompleted func(job *Job, result []byte)
	OnFailed    func(job *Job, err error)
	OnError     func(err error)
}

// ErrLockLost is the cause of a job context cancelled because the worker
// lost the job's lock.
var ErrLockLost = errors.New("jobq: job lock lost")

// errClosing is the cause of job contexts cancelled by Close.
var errClosing = errors.New("jobq: worker closing past its grace period")

// Worker takes jobs from one queue and runs them with a Processor.
// Start it with Start and stop it with Close; it never traps signals.
type Worker struct {
	queue string
	drv   jobqdriver.Driver
	proc  Processor
	cfg   WorkerConfig
	id    string
	seq   atomic.Uint64

	mu      sync.Mutex
	started bool
	closed  bool
	active  map[string]*activeJob
	stop    context.CancelFunc // stops fetching
	stopAll context.CancelFunc // stops background loops
	jobsCtx context.Context
	killJob context.CancelCauseFunc
	slots   chan struct{}
	fetchWG sync.WaitGroup
	jobsWG  sync.WaitGroup
	// tasks hands launched jobs to idle runner goroutines (worker_loop.go);
	// runnersStop, closed by Close, ends the idle ones.
	tasks       chan jobTask
	runnersStop chan struct{}
	runnersWG   sync.WaitGroup
	bgWG        sync.WaitGroup
	finish      chan finishReq
	waiter      jobqdriver.Waiter
	// emptyFetch is the result of the last completion's fetch-next that
	// got fewer jobs than it asked for: the queue had no ready job then.
	// The fetch loop, on taking the slots that completion freed, uses it
	// instead of fetching again (one script call less per job when the
	// queue runs dry) and waits; a job added after that fetch left a
	// marker the wait sees. A wait discards it.
	emptyFetch atomic.Pointer[jobqdriver.FetchResult]
}

type activeJob struct {
	token  string
	cancel context.CancelCauseFunc
}

// NewWorker returns a worker for queue on backend.
func NewWorker(queue string, backend Backend, proc Processor, cfg *WorkerConfig) (*Worker, error) {
	if proc == nil {
		return nil, fmt.Errorf("%w: nil processor", ErrInvalidOption)
	}
	if err := validQueueName(queue); err != nil {
		return nil, err
	}
	w := &Worker{queue: queue, drv: backend, proc: proc, active: map[string]*activeJob{}}
	if cfg != nil {
		w.cfg = *cfg
	}
	c := &w.cfg
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.LockDuration <= 0 {
		c.LockDuration = 30 * time.Second
	}
	if c.LockRenewTime <= 0 {
		c.LockRenewTime = c.LockDuration / 2
	}
	if c.StalledInterval <= 0 {
		c.StalledInterval = 30 * time.Second
	}
	switch {
	case c.MaxStalledCount == 0:
		c.MaxStalledCount = 1
	case c.MaxStalledCount < 0:
		c.MaxStalledCount = 0
	}
	if c.DrainDelay <= 0 {
		c.DrainDelay = 5 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = min(c.Concurrency, 50)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Limiter != nil && (c.Limiter.Max <= 0 || c.Limiter.Duration <= 0) {
		return nil, fmt.Errorf("%w: limiter needs Max > 0 and Duration > 0", ErrInvalidOption)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	w.id = hex.EncodeToString(rnd[:])
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), w.id[:6])
	}
	return w, nil
}

// Name returns the worker's name.
func (w *Worker) Name() string { return w.cfg.Name }

// Start begins fetching and processing jobs in the background. The
// worker's goroutines run until Close; ctx only bounds start-up.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.started {
		return fmt.Errorf("jobq: worker %s already started", w.cfg.Name)
	}
	waiter, err := w.drv.NewWaiter(ctx, w.queue, w.cfg.Name)
	if err != nil {
		return fmt.Errorf("jobq: worker %s: %w", w.cfg.Name, err)
	}
	w.waiter = waiter
	w.started = true
	fetchCtx, stop := context.WithCancel(context.Background())
	bgCtx, stopAll := context.WithCancel(context.Background())
	w.jobsCtx, w.killJob = context.WithCancelCause(context.Background())
	w.stop, w.stopAll = stop, stopAll
	w.slots = make(chan struct{}, w.cfg.Concurrency)
	w.finish = make(chan finishReq, w.cfg.Concurrency)
	w.tasks = make(chan jobTask)
	w.runnersStop = make(chan struct{})

	w.fetchWG.Add(1)
	go func() { defer w.fetchWG.Done(); w.fetchLoop(fetchCtx) }()
	// Two completers when jobs can run side by side: while one batch of
	// completions (with its fetch of the next jobs) is in the backend, the
	// other gathers the completions that arrive meanwhile, so the worker's
	// and the backend's work overlap instead of taking turns.
	completers := min(2, w.cfg.Concurrency)
	w.bgWG.Add(2 + completers)
	for range completers {
		go func() { defer w.bgWG.Done(); w.completeLoop(fetchCtx) }()
	}
	go func() { defer w.bgWG.Done(); w.heartbeatLoop(bgCtx) }()
	go func() { defer w.bgWG.Done(); w.renewLoop(bgCtx) }()
	if !w.cfg.SkipStalledCheck {
		w.bgWG.Add(1)
		go func() { defer w.bgWG.Done(); w.stalledLoop(bgCtx) }()
	}
	return nil
}

// Close stops taking jobs, lets active jobs finish, and stops the worker.
// When ctx ends first, active jobs' contexts are cancelled and Close waits
// for their processors to return, then returns ctx's error.
func (w *Worker) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	started := w.started
	w.mu.Unlock()
	if !started {
		return nil
	}
	w.stop()
	w.fetchWG.Wait()
	done := make(chan struct{})
	go func() { w.jobsWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		w.killJob(errClosing)
		<-done
	}
	close(w.finish)
	w.stopAll()
	w.bgWG.Wait()
	// Every job has returned and nothing launches any more.
	close(w.runnersStop)
	w.runnersWG.Wait()
	w.killJob(errClosing)
	if cerr := w.waiter.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (w *Worker) now() int64 { return w.cfg.Clock().UnixMilli() }

func (w *Worker) token() string {
	var b [64]byte
	return string(strconv.AppendUint(append(append(b[:0], w.id...), ':'), w.seq.Add(1), 10))
}

func (w *Worker) reportErr(err error) {
	w.cfg.Logger.Warn("jobq worker", "queue", w.queue, "worker", w.cfg.Name, "err", err)
	if w.cfg.OnError != nil {
		w.cfg.OnError(err)
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
