package views

import (
	"context"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

// openQueues opens an embedded (SQLite) queue backend and a producer.
func openQueues(t *testing.T) (*queues.Registry, *queues.Backend, *queues.Producer) {
	t.Helper()
	b, err := queues.OpenBackend(context.Background(), queues.BackendConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	reg := queues.NewRegistry()
	return reg, b, queues.NewProducer(reg, b.Driver)
}

func TestEnsureSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, jobs := openQueues(t)
	s := newService(t, storetest.OpenSQLite(t), nil, rollout.Async, nil)
	q := jobs.Queue(queues.QueueAnalytics)
	for range 2 { // upserting twice leaves one scheduler
		if err := s.EnsureSchedule(ctx, jobs, DefaultFlushEvery); err != nil {
			t.Fatal(err)
		}
	}
	got, err := q.GetJobSchedulers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "flush-post-views" || got[0].Name != "flush-post-views" || got[0].Every != 10*time.Second {
		t.Fatalf("schedulers %+v; want flush-post-views every 10s", got)
	}
	if err := s.EnsureSchedule(ctx, jobs, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := q.GetJobSchedulers(ctx); err != nil || len(got) != 0 {
		t.Fatalf("schedulers after every=0: %+v, %v; want none", got, err)
	}
	if err := s.EnsureSchedule(ctx, jobs, -time.Second); err == nil {
		t.Error("EnsureSchedule(-1s) = nil; want an error")
	}
}

// TestFlushJob runs flush-post-views through the registry and a worker.
func TestFlushJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, backend, jobs := openQueues(t)
	st := storetest.OpenSQLite(t)
	addPosts(t, st, 1, 2)
	s := newService(t, st, nil, rollout.Async, nil)
	s.Register(reg)
	for _, id := range []int64{1, 2, 2, 7} {
		record(t, s, id)
	}
	j, err := jobs.Add(ctx, queues.QueueAnalytics, JobFlush, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := queues.NewWorkers(reg, backend.Driver, queues.WorkersConfig{Queues: []string{queues.QueueAnalytics}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	q := jobs.Queue(queues.QueueAnalytics)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := q.GetJob(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if state, _ := got.State(ctx); state == jobq.StateCompleted {
			var res FlushResult
			if err := json.Unmarshal(got.ReturnValue, &res); err != nil || res != (FlushResult{Batches: 1, Posts: 2, Views: 3, Skipped: 1}) {
				t.Errorf("job result %s (%v); want 1 batch, 2 posts, 3 views, 1 skipped", got.ReturnValue, err)
			}
			if string(got.Progress) != `{"batches":1,"posts":2,"views":3,"skipped":1}` {
				t.Errorf("job progress %s", got.Progress)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not completed in 10s: %+v", j.ID, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := viewCounts(t, st); !maps.Equal(got, map[int64]int64{1: 1, 2: 2}) {
		t.Errorf("view counts %v; want {1:1 2:2}", got)
	}
}

// TestFlusherFlushesOnClose: the in-process flusher's Close applies what
// was counted since its last tick.
func TestFlusherFlushesOnClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	addPosts(t, st, 1)
	s := newService(t, st, nil, rollout.Async, nil)
	f := s.Flusher(time.Hour)
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		record(t, s, 1)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := viewCounts(t, st)[1]; got != 4 {
		t.Errorf("view_count = %d after Close; want 4", got)
	}
}
