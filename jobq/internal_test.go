package jobq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestNextRunEvery(t *testing.T) {
	t.Parallel()
	s := &jobqdriver.Scheduler{Every: 1000}
	tests := []struct{ prev, now, want int64 }{
		{0, 5000, 5000},     // first run at once when aligned
		{0, 5001, 6000},     // else at the next multiple of Every
		{5000, 5100, 6000},  // next tick
		{5000, 9500, 10000}, // missed ticks skipped, phase kept
	}
	for _, tt := range tests {
		got, err := nextRun(s, tt.prev, tt.now)
		if err != nil || got != tt.want {
			t.Errorf("nextRun(prev=%d, now=%d) = %d, %v; want %d", tt.prev, tt.now, got, err, tt.want)
		}
	}
}

func TestNextRunCronTimeZone(t *testing.T) {
	t.Parallel()
	// 09:00 every day in Tehran (UTC+3:30) is 05:30 UTC.
	s := &jobqdriver.Scheduler{Pattern: "0 9 * * *", TZ: "Asia/Tehran"}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).UnixMilli()
	got, err := nextRun(s, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 29, 5, 30, 0, 0, time.UTC).UnixMilli()
	if got != want {
		t.Fatalf("next = %s, want %s", time.UnixMilli(got).UTC(), time.UnixMilli(want).UTC())
	}
	// Seconds field.
	s = &jobqdriver.Scheduler{Pattern: "*/10 * * * * *"}
	got, _ = nextRun(s, 0, time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC).UnixMilli())
	if want := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC).UnixMilli(); got != want {
		t.Fatalf("seconds pattern next = %d, want %d", got, want)
	}
}

func TestNextRunLimits(t *testing.T) {
	t.Parallel()
	s := &jobqdriver.Scheduler{Every: 1000, Limit: 2, Iterations: 2}
	if got, _ := nextRun(s, 1000, 1500); got != 0 {
		t.Fatalf("past limit: next = %d, want 0", got)
	}
	s = &jobqdriver.Scheduler{Every: 1000, EndDate: 1800}
	if got, _ := nextRun(s, 1000, 1500); got != 0 {
		t.Fatalf("past end: next = %d, want 0", got)
	}
	s = &jobqdriver.Scheduler{Every: 1000, StartDate: 10_000}
	if got, _ := nextRun(s, 0, 1500); got != 10_000 {
		t.Fatalf("before start: next = %d, want 10000", got)
	}
	if _, err := nextRun(&jobqdriver.Scheduler{Pattern: "nope"}, 0, 0); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("bad pattern err = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	w := &Worker{cfg: WorkerConfig{BackoffStrategy: func(made int, typ string, _ error, _ *Job) time.Duration {
		if made >= 3 {
			return -1
		}
		return time.Duration(made) * time.Minute
	}}}
	exp := &Backoff{Type: BackoffExponential, Delay: time.Second}
	for made, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		j := &Job{AttemptsMade: made, Opts: JobOptions{Backoff: exp}}
		if got, ok := w.backoff(j, nil); !ok || got != want {
			t.Errorf("exponential after %d = %s; want %s", made, got, want)
		}
	}
	j := &Job{AttemptsMade: 0, Opts: JobOptions{Backoff: &Backoff{Type: BackoffFixed, Delay: time.Second, Jitter: 0.5}}}
	for range 100 {
		got, _ := w.backoff(j, nil)
		if got < 500*time.Millisecond || got > time.Second {
			t.Fatalf("fixed with jitter 0.5 = %s, outside [0.5s, 1s]", got)
		}
	}
	j = &Job{AttemptsMade: 0, Opts: JobOptions{Backoff: &Backoff{Type: "custom"}}}
	if got, ok := w.backoff(j, nil); !ok || got != time.Minute {
		t.Fatalf("custom = %s, %v", got, ok)
	}
	j.AttemptsMade = 2
	if _, ok := w.backoff(j, nil); ok {
		t.Fatal("custom strategy returning -1 still retries")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	bad := []JobOptions{
		{Priority: MaxPriority + 1},
		{Priority: -1},
		{Delay: -time.Second},
		{JobID: "123"},
		{JobID: "a:b"},
		{Deduplication: &Deduplication{}},
		{Deduplication: &Deduplication{ID: "x", Extend: true}},
		{Backoff: &Backoff{Jitter: 2}},
		{Parent: &Parent{ID: "x"}},
	}
	for _, o := range bad {
		if err := o.validate(); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("validate(%+v) = %v; want ErrInvalidOption", o, err)
		}
	}
	good := []JobOptions{{}, {JobID: "media-1"}, {JobID: "a:b:c"}, {Priority: MaxPriority},
		{Deduplication: &Deduplication{ID: "x", TTL: time.Second, Extend: true, Replace: true}}}
	for _, o := range good {
		if err := o.validate(); err != nil {
			t.Errorf("validate(%+v) = %v", o, err)
		}
	}
}

func TestKeepHelpers(t *testing.T) {
	t.Parallel()
	if k := RemoveAll(); !k.RemovesAll() {
		t.Error("RemoveAll does not remove all")
	}
	if k := KeepLast(5); k.Count != 5 || k.Age != 0 {
		t.Errorf("KeepLast(5) = %+v", k)
	}
	if k := KeepFor(time.Hour, 0); k.Count != -1 || k.Age != 3600 {
		t.Errorf("KeepFor(1h, 0) = %+v", k)
	}
	if k := KeepFor(time.Millisecond, 3); k.Age != 1 || k.Count != 3 {
		t.Errorf("KeepFor(1ms, 3) = %+v", k)
	}
}

func TestQueueNames(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"", "a:b"} {
		if err := validQueueName(n); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("validQueueName(%q) = %v", n, err)
		}
		if _, err := NewWorker(n, nil, func(context.Context, *Job) (any, error) { return nil, nil }, nil); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("NewWorker(%q) = %v", n, err)
		}
	}
	if err := validQueueName("media"); err != nil {
		t.Error(err)
	}
}
