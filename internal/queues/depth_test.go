package queues

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sevra/atlas/internal/redistest"
	"github.com/sevra/atlas/jobq"
)

// TestDepthCollector puts jobs in known states on each backend and reads
// the exported gauges back as exposition text written out by hand.
func TestDepthCollector(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		b, err := OpenBackend(context.Background(), BackendConfig{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		testDepth(t, b.Driver)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		c := redistest.Client(t)
		prefix := redistest.Prefix(t, c, "depth")
		b, err := OpenBackend(context.Background(), BackendConfig{RedisURL: os.Getenv("ATLAS_TEST_REDIS_URL"),
			RedisPrefix: prefix, AllowUnsafeRedis: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		testDepth(t, b.Driver)
	})
}

func testDepth(t *testing.T, drv jobq.Backend) {
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	now := t0
	media := jobq.NewQueue(QueueMedia, drv, &jobq.QueueConfig{Clock: func() time.Time { return now }})
	add := func(q *jobq.Queue, at time.Duration, opts *jobq.JobOptions) {
		t.Helper()
		now = t0.Add(at)
		if _, err := q.Add(ctx, "j", nil, opts); err != nil {
			t.Fatal(err)
		}
	}
	add(media, 10*time.Second, nil)
	add(media, 20*time.Second, nil)
	add(media, 30*time.Second, &jobq.JobOptions{Priority: 3})
	add(media, 5*time.Second, &jobq.JobOptions{Delay: 24 * time.Hour})
	// One failed job on notifications, through a real worker.
	notif := jobq.NewQueue(QueueNotifications, drv, nil)
	if _, err := notif.Add(ctx, "bad", nil, nil); err != nil {
		t.Fatal(err)
	}
	w, err := jobq.NewWorker(QueueNotifications, drv, func(context.Context, *jobq.Job) (any, error) {
		return nil, jobq.Unrecoverable(errors.New("no"))
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, _ := notif.GetJobCounts(ctx, jobq.StateFailed)
		if c[jobq.StateFailed] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the notification job did not fail")
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}

	c := NewDepthCollector(drv, []string{QueueMedia, QueueNotifications}, 0, nil)
	c.now = func() time.Time { return t0.Add(100 * time.Second) }
	want := `
# HELP atlas_queue_jobs Jobs in the queue by state, read from the queue backend at scrape time (the same on every node).
# TYPE atlas_queue_jobs gauge
atlas_queue_jobs{queue="media",state="active"} 0
atlas_queue_jobs{queue="media",state="completed"} 0
atlas_queue_jobs{queue="media",state="delayed"} 1
atlas_queue_jobs{queue="media",state="failed"} 0
atlas_queue_jobs{queue="media",state="prioritized"} 1
atlas_queue_jobs{queue="media",state="waiting"} 2
atlas_queue_jobs{queue="media",state="waiting-children"} 0
atlas_queue_jobs{queue="notifications",state="active"} 0
atlas_queue_jobs{queue="notifications",state="completed"} 0
atlas_queue_jobs{queue="notifications",state="delayed"} 0
atlas_queue_jobs{queue="notifications",state="failed"} 1
atlas_queue_jobs{queue="notifications",state="prioritized"} 0
atlas_queue_jobs{queue="notifications",state="waiting"} 0
atlas_queue_jobs{queue="notifications",state="waiting-children"} 0
# HELP atlas_queue_oldest_ready_age_seconds Seconds since the oldest job ready to run (next in waiting or first in prioritized) became ready; 0 when none waits.
# TYPE atlas_queue_oldest_ready_age_seconds gauge
atlas_queue_oldest_ready_age_seconds{queue="media"} 90
atlas_queue_oldest_ready_age_seconds{queue="notifications"} 0
# HELP atlas_queue_stats_up 1 when the queue's depth could be read at this scrape, else 0 (then its other queue gauges are absent).
# TYPE atlas_queue_stats_up gauge
atlas_queue_stats_up{queue="media"} 1
atlas_queue_stats_up{queue="notifications"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	// A closed backend reads nothing: up 0, no stale gauges.
	if err := drv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP atlas_queue_stats_up 1 when the queue's depth could be read at this scrape, else 0 (then its other queue gauges are absent).
# TYPE atlas_queue_stats_up gauge
atlas_queue_stats_up{queue="media"} 0
atlas_queue_stats_up{queue="notifications"} 0
`)); err != nil {
		t.Fatal(err)
	}
}

// TestWaitHistogram checks that a first attempt observes its wait from
// ready (timestamp plus delay) and a retry observes nothing.
func TestWaitHistogram(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := newWorkerMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	p := m.timed(QueueMedia, func(context.Context, *jobq.Job) (any, error) { ran++; return nil, nil })
	ctx := context.Background()
	// Added 5 s ago with a 2 s delay: ready 3 s ago.
	p(ctx, &jobq.Job{Name: "x", Timestamp: time.Now().Add(-5 * time.Second), Delay: 2 * time.Second})
	p(ctx, &jobq.Job{Name: "x", Timestamp: time.Now().Add(-time.Hour), AttemptsMade: 1})
	if ran != 2 {
		t.Fatalf("processor ran %d times, want 2", ran)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "atlas_job_wait_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 1 || h.GetSampleSum() < 3 || h.GetSampleSum() > 4 {
			t.Fatalf("wait histogram: %d samples, sum %.2f s; want 1 sample of ~3 s", h.GetSampleCount(), h.GetSampleSum())
		}
		return
	}
	t.Fatal("atlas_job_wait_seconds not gathered")
}
