package cache

import (
	"context"
	"sync"
)

// flightGroup runs at most one load per flight key at a time: a caller that
// arrives while a load of its flight key runs waits for that load's result
// (singleflight). Unlike golang.org/x/sync/singleflight, a waiter stops
// waiting when its own context ends, and a flight key can be forgotten so
// that later callers start a new load. The load runs in the goroutine of
// the caller that started it; no goroutine is started.
type flightGroup struct {
	mu      sync.Mutex
	flights map[string]*flight
}

// flight is one running load.
type flight struct {
	done    chan struct{} // closed when val and err are set
	val     []byte
	err     error
	waiters int // callers waiting for done, for tests
}

// do returns the result of run, called as a new flight of key, or, when a
// flight of key is running, the result of that flight (shared is then true)
// unless ctx ends first. run receives its flight, to ask current whether it
// was forgotten meanwhile. If run panics, the panic propagates to do's
// caller and the waiters get errLoadPanicked.
func (g *flightGroup) do(ctx context.Context, key string, run func(f *flight) ([]byte, error)) (val []byte, shared bool, err error) {
	g.mu.Lock()
	if f, ok := g.flights[key]; ok {
		f.waiters++
		g.mu.Unlock()
		select {
		case <-f.done:
			return f.val, true, f.err
		case <-ctx.Done():
			g.mu.Lock()
			f.waiters--
			g.mu.Unlock()
			return nil, true, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	if g.flights == nil {
		g.flights = make(map[string]*flight)
	}
	g.flights[key] = f
	g.mu.Unlock()

	returned := false
	defer func() {
		if !returned {
			f.val, f.err = nil, errLoadPanicked
		}
		g.mu.Lock()
		if g.flights[key] == f {
			delete(g.flights, key)
		}
		g.mu.Unlock()
		close(f.done)
	}()
	f.val, f.err = run(f)
	returned = true
	return f.val, false, f.err
}

// forget detaches the running flight of key, if any: it goes on, but later
// calls of do start a new flight, and current reports false for it.
func (g *flightGroup) forget(key string) {
	g.mu.Lock()
	delete(g.flights, key)
	g.mu.Unlock()
}

// current reports whether f is the running flight of key (was not forgotten).
func (g *flightGroup) current(key string, f *flight) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.flights[key] == f
}

// waiting returns the number of callers waiting for a flight, for tests.
func (g *flightGroup) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, f := range g.flights {
		n += f.waiters
	}
	return n
}
