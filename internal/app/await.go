package app

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Backoff bounds between start attempts of a component that waits for
// Redis.
const (
	awaitFirstRetry = 500 * time.Millisecond
	awaitMaxRetry   = 30 * time.Second
)

// awaitDependency wraps a component whose Start needs a dependency that
// may be down (Redis: workers, scheduler upserts). When Start fails while
// the dependency's probe fails too, the process starts anyway: the
// component is started again in the background with exponential backoff
// (0.5 s doubling to 30 s) until it succeeds or the process stops. When
// Start fails while the dependency answers, the error is real and
// returned as before.
type awaitDependency struct {
	inner Component
	dep   string
	probe func(ctx context.Context) error
	log   *slog.Logger

	mu      sync.Mutex
	started bool // inner.Start succeeded
	cancel  context.CancelFunc
	done    chan struct{} // closed when the retry loop ends
}

func (w *awaitDependency) Name() string { return w.inner.Name() }

// Start starts the inner component, or schedules retries when the
// dependency is down.
func (w *awaitDependency) Start(ctx context.Context) error {
	err := w.inner.Start(ctx)
	if err == nil {
		w.mu.Lock()
		w.started = true
		w.mu.Unlock()
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	perr := w.probe(pctx)
	cancel()
	if perr == nil || ctx.Err() != nil {
		return err
	}
	w.log.Warn("component waits for its dependency; retrying in the background",
		"component", w.inner.Name(), "dependency", w.dep, "err", err)
	// The loop outlives Start's ctx (Run cancels it only at shutdown,
	// where Close stops the loop first).
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.mu.Lock()
	w.cancel, w.done = stop, make(chan struct{})
	w.mu.Unlock()
	go w.retry(bctx)
	return nil
}

func (w *awaitDependency) retry(ctx context.Context) {
	defer close(w.done)
	wait := awaitFirstRetry
	for attempt := 2; ; attempt++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := w.inner.Start(ctx)
		if err == nil {
			w.mu.Lock()
			w.started = true
			w.mu.Unlock()
			w.log.Info("component started after waiting for its dependency", "component", w.inner.Name(),
				"dependency", w.dep, "attempt", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		w.log.Debug("component still waits for its dependency", "component", w.inner.Name(), "attempt", attempt, "err", err)
		wait = min(2*wait, awaitMaxRetry)
	}
}

// Close stops the retry loop, then closes the inner component if it
// started.
func (w *awaitDependency) Close(ctx context.Context) error {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if !started {
		return nil
	}
	return w.inner.Close(ctx)
}
