package app

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// flaky fails its first n starts.
type flaky struct {
	n              int32
	starts, closes atomic.Int32
}

func (f *flaky) Name() string { return "flaky" }

func (f *flaky) Start(context.Context) error {
	if f.starts.Add(1) <= f.n {
		return errors.New("dial tcp: connection refused")
	}
	return nil
}

func (f *flaky) Close(context.Context) error { f.closes.Add(1); return nil }

func TestAwaitDependency(t *testing.T) {
	t.Parallel()
	down := func(context.Context) error { return errors.New("redis down") }
	up := func(context.Context) error { return nil }
	ctx := context.Background()

	t.Run("a failure while the dependency answers is returned", func(t *testing.T) {
		t.Parallel()
		f := &flaky{n: 1}
		w := &awaitDependency{inner: f, dep: "redis", probe: up, log: slog.New(slog.DiscardHandler)}
		if err := w.Start(ctx); err == nil {
			t.Fatal("Start = nil, want the component's error")
		}
		if err := w.Close(ctx); err != nil || f.closes.Load() != 0 {
			t.Errorf("Close = %v after %d inner closes; want nil, 0 (never started)", err, f.closes.Load())
		}
	})

	t.Run("retried in the background until it starts", func(t *testing.T) {
		t.Parallel()
		f := &flaky{n: 2}
		w := &awaitDependency{inner: f, dep: "redis", probe: down, log: slog.New(slog.DiscardHandler)}
		if err := w.Start(ctx); err != nil {
			t.Fatalf("Start = %v, want nil while the dependency is down", err)
		}
		deadline := time.Now().Add(5 * time.Second) // retries after 0.5 s and 1 s
		for f.starts.Load() < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%d starts after 5 s, want 3", f.starts.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(1200 * time.Millisecond)
		if n := f.starts.Load(); n != 3 {
			t.Errorf("%d starts, want 3 (no retry after success)", n)
		}
		if err := w.Close(ctx); err != nil || f.closes.Load() != 1 {
			t.Errorf("Close = %v after %d inner closes, want nil, 1", err, f.closes.Load())
		}
	})

	t.Run("Close stops the retries", func(t *testing.T) {
		t.Parallel()
		f := &flaky{n: 1 << 30}
		w := &awaitDependency{inner: f, dep: "redis", probe: down, log: slog.New(slog.DiscardHandler)}
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		n := f.starts.Load()
		time.Sleep(700 * time.Millisecond)
		if f.starts.Load() != n || f.closes.Load() != 0 {
			t.Errorf("after Close: starts %d → %d, closes %d; want no more starts and no close", n, f.starts.Load(), f.closes.Load())
		}
	})
}
