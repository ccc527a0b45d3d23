package jobqsqlite

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestSchedulers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	s := jobqdriver.Scheduler{ID: "s1", Name: "tick", Every: 1000, Data: []byte(`{"a":1}`)}
	first := &jobqdriver.Job{ID: "repeat:s1:2000", Name: "tick", Delay: 1000, Timestamp: 1000}
	if err := d.UpsertScheduler(ctx, "q", s, first, 1000); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetScheduler(ctx, "q", "s1")
	if err != nil || got.Next != 2000 || got.Iterations != 1 || string(got.Data) != `{"a":1}` {
		t.Fatalf("scheduler %+v %v", got, err)
	}
	// Re-upsert replaces the pending job.
	first2 := &jobqdriver.Job{ID: "repeat:s1:2500", Name: "tick", Delay: 1500, Timestamp: 1000}
	if err := d.UpsertScheduler(ctx, "q", s, first2, 1000); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.JobState(ctx, "q", "repeat:s1:2000"); st != "unknown" {
		t.Fatalf("old pending job %s", st)
	}
	// Many workers race to schedule the same tick: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := &jobqdriver.Job{ID: "repeat:s1:3500", Name: "tick", Delay: 1000, Timestamp: 2500}
			ok, err := d.ScheduleNext(ctx, "q", "s1", next, 2500)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("wins %d", wins.Load())
	}
	if ok, _ := d.ScheduleNext(ctx, "q", "s1", &jobqdriver.Job{ID: "repeat:s1:3000"}, 2500); ok {
		t.Fatal("earlier tick scheduled")
	}
	got, _ = d.GetScheduler(ctx, "q", "s1")
	if got.Next != 3500 || got.Iterations != 2 {
		t.Fatalf("after next %+v", got)
	}
	list, _ := d.ListSchedulers(ctx, "q")
	if len(list) != 1 {
		t.Fatalf("list %v", list)
	}
	if ok, err := d.RemoveScheduler(ctx, "q", "s1"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if st, _ := d.JobState(ctx, "q", "repeat:s1:3500"); st != "unknown" {
		t.Fatalf("pending job survived removal: %s", st)
	}
	if ok, _ := d.ScheduleNext(ctx, "q", "s1", &jobqdriver.Job{ID: "repeat:s1:9000"}, 2500); ok {
		t.Fatal("scheduled after removal")
	}
	if _, err := d.GetScheduler(ctx, "q", "s1"); !errorsIs(err, jobqdriver.ErrJobNotFound) {
		t.Fatal(err)
	}
}
