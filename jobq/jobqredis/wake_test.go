package jobqredis

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWakeClockOneWakerPerMoment: of two waiters of one queue in one
// process whose timers end in the same millisecond, one returns and the
// other keeps waiting on the marker, until an add wakes it.
func TestWakeClockOneWakerPerMoment(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	a, err := d.NewWaiter(ctx, "wk", "a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := d.NewWaiter(ctx, "wk", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Both waiters arm for the same due time (as workers do from one
	// next-delayed time).
	due := time.UnixMilli(time.Now().Add(300 * time.Millisecond).UnixMilli())
	done := make(chan string, 2)
	for name, w := range map[string]interface {
		Wait(context.Context, time.Duration) error
	}{"a": a, "b": b} {
		go func() {
			_ = w.Wait(ctx, time.Until(due))
			done <- name
		}()
	}
	var first string
	select {
	case first = <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("no waiter returned at the due time")
	}
	select {
	case second := <-done:
		t.Fatalf("both waiters woke for one moment (%s, then %s)", first, second)
	case <-time.After(time.Second):
	}
	// An add (a "0" marker) wakes a waiter: the one still waiting, or the
	// one that returned, whose BZPOPMIN outlives its Wait and keeps the
	// marker for its next Wait.
	again := map[string]interface {
		Wait(context.Context, time.Duration) error
	}{"a": a, "b": b}[first]
	go func() {
		_ = again.Wait(ctx, 10*time.Second)
		done <- first
	}()
	mustAdd(t, d, "wk", time.Now().UnixMilli(), job("j1", "n"))
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("no waiter was woken by an add")
	}
}

// TestWakeClockLaterMomentClaims: a waiter whose deadline is in a later
// millisecond than the last claim is a waker again.
func TestWakeClockLaterMomentClaims(t *testing.T) {
	c := &wakeClock{}
	t0 := time.Now()
	if !c.claim(t0) {
		t.Fatal("first claim refused")
	}
	if c.claim(t0) {
		t.Fatal("second claim for the same millisecond granted")
	}
	if c.claim(t0.Add(-5 * time.Millisecond)) {
		t.Fatal("claim for an earlier millisecond granted")
	}
	if !c.claim(time.Now().Add(2 * time.Millisecond)) {
		t.Fatal("claim for a later millisecond refused")
	}
}

// TestFetchLeavesMarkerForNextDelayed: a fetch that takes the last ready
// job removes the "0" marker and leaves the next delayed time as the "1"
// marker (so an idle worker arms a timer for it); with ready jobs left it
// leaves "0".
func TestFetchLeavesMarkerForNextDelayed(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	dj := job("later", "n")
	dj.Delay = 60000
	mustAdd(t, d, "mk", now, job("r1", "n"), job("r2", "n"), dj)
	marker := d.key("mk", "marker")
	zs := func() []redis.Z {
		t.Helper()
		z, err := d.client.ZRangeWithScores(ctx, marker, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	if r := fetchN(t, d, "mk", 1, now); len(r.Jobs) != 1 {
		t.Fatalf("fetched %d jobs, want 1", len(r.Jobs))
	}
	if z := zs(); len(z) == 0 || z[0].Member != "0" {
		t.Fatalf("marker after a fetch with a ready job left: %v, want \"0\" first", z)
	}
	if r := fetchN(t, d, "mk", 1, now); len(r.Jobs) != 1 {
		t.Fatalf("fetched %d jobs, want 1", len(r.Jobs))
	}
	z := zs()
	if len(z) != 1 || z[0].Member != "1" || int64(z[0].Score) != now+60000 {
		t.Fatalf("marker after the last ready job: %v, want only \"1\" at %d", z, now+60000)
	}
}
