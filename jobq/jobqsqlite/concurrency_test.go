package jobqsqlite

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestEventsReadAndBlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 0, &jobqdriver.Job{ID: "a", Name: "n"})
	evs, err := d.ReadEvents(ctx, "q", "0", 10, 0)
	if err != nil || len(evs) != 2 || evs[0].Name != "added" || evs[0].Fields["name"] != "n" || evs[1].Name != "waiting" {
		t.Fatalf("events %+v %v", evs, err)
	}
	if !(evs[0].ID < evs[1].ID) {
		t.Fatalf("ids do not sort: %s %s", evs[0].ID, evs[1].ID)
	}
	if last, _ := d.LastEventID(ctx, "q"); last != evs[1].ID {
		t.Fatalf("last %s", last)
	}
	if evs, _ := d.ReadEvents(ctx, "q", evs[1].ID, 10, 0); len(evs) != 0 {
		t.Fatalf("after last: %v", evs)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		d.SetPaused(ctx, "q", true)
	}()
	start := time.Now()
	evs, err = d.ReadEvents(ctx, "q", "$", 10, 5*time.Second)
	if err != nil || len(evs) != 1 || evs[0].Name != "paused" || time.Since(start) > 2*time.Second {
		t.Fatalf("blocking read %+v %v after %s", evs, err, time.Since(start))
	}
}

func TestEventsTrimmed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := Open(ctx, t.TempDir()+"/q.db", &Config{MaxLenEvents: 100, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for range 300 {
		mustAdd(t, d, "q", 0, &jobqdriver.Job{})
	}
	evs, _ := d.ReadEvents(ctx, "q", "0", 10000, 0)
	if len(evs) < 100 || len(evs) > 100+2*trimEvery {
		t.Fatalf("%d events kept", len(evs))
	}
}

func TestWaiterWakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, path := openTest(t)
	other, err := Open(ctx, path, &Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	w, err := d.NewWaiter(ctx, "q", "w")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, tc := range []struct {
		name  string
		adder *Driver
		limit time.Duration
	}{{"same process", d, 50 * time.Millisecond}, {"other process", other, 500 * time.Millisecond}} {
		// Lateness is measured from the moment the add's commit returned,
		// so a slow fsync on a loaded machine is not counted as a late
		// wake-up (the waiter cannot wake before the commit).
		committed := make(chan time.Time, 1)
		go func() {
			time.Sleep(100 * time.Millisecond)
			_, err := tc.adder.Add(ctx, "q", []*jobqdriver.Job{{}}, 0)
			if err != nil {
				t.Error(err)
			}
			committed <- time.Now()
		}()
		if err := w.Wait(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		woke := time.Now()
		if el := woke.Sub(<-committed); el > tc.limit {
			t.Fatalf("%s: woke %s after the add committed", tc.name, el)
		}
	}
	start := time.Now()
	if err := w.Wait(ctx, 80*time.Millisecond); err != nil || time.Since(start) < 70*time.Millisecond {
		t.Fatalf("timeout wait: %v after %s", err, time.Since(start))
	}
}

// TestTwoDriversShareFile runs two drivers on one file (as two processes
// would) adding and fetching concurrently: every job is fetched once.
func TestTwoDriversShareFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d1, path := openTest(t)
	d2, err := Open(ctx, path, &Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	const total = 5000
	var wg sync.WaitGroup
	for i, d := range []*Driver{d1, d2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range total / 2 / 50 {
				jobs := make([]*jobqdriver.Job, 50)
				for k := range jobs {
					jobs[k] = &jobqdriver.Job{ID: fmt.Sprintf("j-%d-%d-%d", i, b, k)}
				}
				if _, err := d.Add(ctx, "q", jobs, 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var mu sync.Mutex
	seen := map[string]int{}
	for w := range 4 {
		d := []*Driver{d1, d2}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			idle := 0
			for idle < 50 {
				toks := make([]string, 10)
				for k := range toks {
					toks[k] = fmt.Sprintf("w%d-%d", w, k)
				}
				res, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", Tokens: toks, LockDuration: 60000, Now: 2})
				if err != nil {
					t.Error(err)
					return
				}
				if len(res.Jobs) == 0 {
					idle++
					time.Sleep(5 * time.Millisecond)
					continue
				}
				idle = 0
				items := make([]jobqdriver.FinishParams, len(res.Jobs))
				mu.Lock()
				for k, j := range res.Jobs {
					seen[j.ID]++
					items[k] = jobqdriver.FinishParams{Queue: "q", ID: j.ID, Token: j.Token, Keep: &jobqdriver.Keep{}, Now: 3}
				}
				mu.Unlock()
				errs, _, err := d.Finish(ctx, items, nil)
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range errs {
					if e != nil {
						t.Error(e)
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("fetched %d distinct jobs, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("job %s fetched %d times", id, n)
		}
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := t.TempDir() + "/q.db"
	d, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, d, "q", 1, &jobqdriver.Job{ID: "a", Data: []byte(`[1]`)}, &jobqdriver.Job{ID: "b", Delay: 10})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add(ctx, "q", []*jobqdriver.Job{{}}, 1); !errorsIs(err, jobqdriver.ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
	d, err = Open(ctx, path, nil) // migrations re-applied idempotently
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	j, err := d.GetJob(ctx, "q", "a")
	if err != nil || string(j.Data) != `[1]` {
		t.Fatalf("after reopen %+v %v", j, err)
	}
	if r := mustAdd(t, d, "q", 1, &jobqdriver.Job{}); r[0].ID != "3" {
		t.Fatalf("id counter not persisted: %s", r[0].ID)
	}
}
