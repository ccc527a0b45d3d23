package queues

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sevra/atlas/jobq"
)

func TestWorkersRunHandlersAndRejectUnknownJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := OpenBackend(ctx, BackendConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	reg := NewRegistry()
	reg.Handle(QueueAnalytics, "double", func(ctx context.Context, j *jobq.Job) (any, error) {
		var n int
		if err := j.Decode(&n); err != nil {
			return nil, jobq.Unrecoverable(err)
		}
		return n * 2, nil
	})
	prom := prometheus.NewRegistry()
	w, err := NewWorkers(reg, b.Driver, WorkersConfig{Registry: prom})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Queues(); len(got) != 1 || got[0] != QueueAnalytics {
		t.Fatalf("queues = %v", got)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p := NewProducer(reg, b.Driver)
	ok, err := p.Add(ctx, QueueAnalytics, "double", 21, nil)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := p.Add(ctx, QueueAnalytics, "nobody-handles-this", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if unknown.Opts.Attempts != 3 || unknown.Opts.RemoveOnFail == nil {
		t.Fatalf("queue defaults not applied: %+v", unknown.Opts)
	}
	q := p.Queue(QueueAnalytics)
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, _ := q.GetJob(ctx, ok.ID)
		u, _ := q.GetJob(ctx, unknown.ID)
		if a != nil && u != nil && string(a.ReturnValue) == "42" && u.FailedReason != "" {
			if u.AttemptsMade != 1 {
				t.Fatalf("unknown job name retried: attempts %d", u.AttemptsMade)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not finished: %+v %+v", a, u)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(w.metrics.jobs.WithLabelValues(QueueAnalytics, "double", "completed")); n != 1 {
		t.Fatalf("completed metric = %v", n)
	}
}

func TestNewWorkersRejectsUnknownQueue(t *testing.T) {
	t.Parallel()
	b, err := OpenBackend(context.Background(), BackendConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := NewWorkers(NewRegistry(), b.Driver, WorkersConfig{Queues: []string{"nope"}}); err == nil {
		t.Fatal("no error for a queue without handlers")
	}
}

func TestDefaultSettings(t *testing.T) {
	t.Parallel()
	m := DefaultSettings(QueueMedia, 2)
	if m.Concurrency != 2 || m.Limiter.Max != 10 || m.Limiter.Duration != time.Second || m.Defaults.Attempts != 5 ||
		m.Defaults.Backoff.Type != jobq.BackoffExponential || m.Defaults.Backoff.Delay != time.Second {
		t.Fatalf("media settings %+v", m)
	}
	if s := DefaultSettings(QueueMaintenance, 8); s.Concurrency != 1 {
		t.Fatalf("maintenance concurrency %d", s.Concurrency)
	}
	if s := DefaultSettings(QueueNotifications, 8); s.Defaults.Priority != 1 || s.Defaults.Attempts != 5 {
		t.Fatalf("notifications %+v", s)
	}
	if k := DefaultSettings(QueueAnalytics, 1).Defaults.RemoveOnFail; k.Age != 7*24*3600 {
		t.Fatalf("failed retention %+v", k)
	}
}

func TestRedisBackendReadiness(t *testing.T) {
	t.Parallel()
	url := os.Getenv("ATLAS_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("ATLAS_TEST_REDIS_URL is required")
		}
		t.Skip("set ATLAS_TEST_REDIS_URL to run Redis-backed tests")
	}
	ctx := context.Background()
	b, err := OpenBackend(ctx, BackendConfig{RedisURL: url, RedisPrefix: "{atlas-jobs-test}"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Kind != "redis" {
		t.Fatalf("kind %s", b.Kind)
	}
	err = b.Check(ctx)
	// The test Redis runs without AOF; the check must say so unless the
	// server happens to be configured durably.
	h, ok, herr := jobq.Health(ctx, b.Driver)
	if !ok || herr != nil {
		t.Fatalf("health: supported %v, err %v", ok, herr)
	}
	if h.OK() != (err == nil) {
		t.Fatalf("check = %v, health warnings %v", err, h.Warnings)
	}
	if err != nil && !errors.Is(err, ErrUnsafeRedis) {
		t.Fatalf("check error %v does not wrap ErrUnsafeRedis", err)
	}
	b.allowUnsafe = true
	if err := b.Check(ctx); err != nil {
		t.Fatalf("allow-unsafe check: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	if got := redactURL("redis://user:secret@host:6379/0"); got != "redis://***@host:6379/0" {
		t.Fatal(got)
	}
	if got := redactURL("redis://host:6379"); got != "redis://host:6379" {
		t.Fatal(got)
	}
}
