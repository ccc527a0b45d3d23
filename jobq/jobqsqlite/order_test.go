package jobqsqlite

import (
	"context"
	"slices"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestOrdering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		jobs []*jobqdriver.Job
		want []string
	}{
		{"fifo", []*jobqdriver.Job{{ID: "a"}, {ID: "b"}, {ID: "c"}}, []string{"a", "b", "c"}},
		{"lifo", []*jobqdriver.Job{{ID: "a"}, {ID: "b", Opts: jobqdriver.Opts{LIFO: true}}, {ID: "c", Opts: jobqdriver.Opts{LIFO: true}}}, []string{"c", "b", "a"}},
		{"priority", []*jobqdriver.Job{{ID: "p5", Priority: 5}, {ID: "p1", Priority: 1}, {ID: "none"}, {ID: "p1b", Priority: 1}}, []string{"none", "p1", "p1b", "p5"}},
		{"delayed same ms", []*jobqdriver.Job{{ID: "d1", Delay: 10}, {ID: "d2", Delay: 10}, {ID: "d0", Delay: 5}, {ID: "d3", Delay: 10}}, []string{"d0", "d1", "d2", "d3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, _ := openTest(t)
			mustAdd(t, d, "q", 1000, tt.jobs...)
			var got []string
			for range len(tt.jobs) {
				res := fetchN(t, d, "q", 1, 2000)
				got = append(got, ids(res.Jobs)...)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFetchBatchAndNextDelayed(t *testing.T) {
	t.Parallel()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 1000, &jobqdriver.Job{ID: "a"}, &jobqdriver.Job{ID: "b"}, &jobqdriver.Job{ID: "d", Delay: 500})
	res := fetchN(t, d, "q", 5, 1000)
	if got := ids(res.Jobs); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("batch %v", got)
	}
	if res.NextDelayed != 1500 {
		t.Fatalf("next delayed %d", res.NextDelayed)
	}
	if j := res.Jobs[0]; j.State != "active" || j.Token == "" || j.AttemptsStarted != 1 || j.ProcessedOn != 1000 {
		t.Fatalf("job %+v", j)
	}
	if res := fetchN(t, d, "q", 1, 1499); len(res.Jobs) != 0 {
		t.Fatal("delayed job too early")
	}
	if res := fetchN(t, d, "q", 1, 1500); len(res.Jobs) != 1 || res.Jobs[0].ID != "d" {
		t.Fatalf("delayed not promoted: %v", ids(res.Jobs))
	}
}

func TestDuplicateAndDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	r := mustAdd(t, d, "q", 1000, &jobqdriver.Job{ID: "x"}, &jobqdriver.Job{ID: "x"})
	if r[0].Duplicate || !r[1].Duplicate || r[1].ID != "x" {
		t.Fatalf("dup %+v", r)
	}
	// TTL dedup.
	de := &jobqdriver.Dedup{ID: "k", TTL: 100}
	r = mustAdd(t, d, "q", 1000, &jobqdriver.Job{Opts: jobqdriver.Opts{Dedup: de}}, &jobqdriver.Job{Opts: jobqdriver.Opts{Dedup: de}})
	if r[1].DeduplicatedBy != r[0].ID || r[1].ID != r[0].ID {
		t.Fatalf("ttl dedup %+v", r)
	}
	r = mustAdd(t, d, "q", 1100, &jobqdriver.Job{Opts: jobqdriver.Opts{Dedup: de}})
	if r[0].DeduplicatedBy != "" {
		t.Fatalf("expired key still deduplicates: %+v", r)
	}
	// No TTL: alive until the job finishes.
	de0 := &jobqdriver.Dedup{ID: "z"}
	r = mustAdd(t, d, "z", 1000, &jobqdriver.Job{Opts: jobqdriver.Opts{Dedup: de0}})
	first := r[0].ID
	r = mustAdd(t, d, "z", 99999, &jobqdriver.Job{Opts: jobqdriver.Opts{Dedup: de0}})
	if r[0].DeduplicatedBy != first {
		t.Fatalf("no-ttl dedup %+v", r)
	}
	j := fetchN(t, d, "z", 1, 1000).Jobs[0]
	complete(t, d, j, 1001, nil)
	r = mustAdd(t, d, "z", 1002, &jobqdriver.Job{Opts: jobqdriver.Opts{Dedup: de0}})
	if r[0].DeduplicatedBy != "" {
		t.Fatalf("key survived finish: %+v", r)
	}
	evs, err := d.ReadEvents(ctx, "z", "0", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range evs {
		if e.Name == "deduplicated" {
			found = e.Fields["jobId"] == first && e.Fields["deduplicationId"] == "z" && e.Fields["deduplicatedJobId"] != ""
		}
	}
	if !found {
		t.Fatalf("no deduplicated event in %v", evs)
	}
	if !slices.Contains(eventNames(t, d, "q"), "duplicated") {
		t.Fatal("no duplicated event")
	}
}

func TestPausedAndLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 1000, &jobqdriver.Job{}, &jobqdriver.Job{}, &jobqdriver.Job{}, &jobqdriver.Job{})
	if err := d.SetPaused(ctx, "q", true); err != nil {
		t.Fatal(err)
	}
	if res := fetchN(t, d, "q", 1, 1000); !res.Paused || len(res.Jobs) != 0 {
		t.Fatalf("paused fetch %+v", res)
	}
	if p, _ := d.IsPaused(ctx, "q"); !p {
		t.Fatal("not paused")
	}
	if err := d.SetPaused(ctx, "q", false); err != nil {
		t.Fatal(err)
	}
	lim := &jobqdriver.Limiter{Max: 2, Duration: 1000}
	fetch := func(now int64, n int) jobqdriver.FetchResult {
		toks := make([]string, n)
		for i := range toks {
			toks[i] = "t" + itoa(now) + itoa(int64(i))
		}
		res, err := d.Fetch(ctx, jobqdriver.FetchParams{Queue: "q", Tokens: toks, LockDuration: 1000, Limiter: lim, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := fetch(5000, 3); len(res.Jobs) != 2 {
		t.Fatalf("limiter allowed %d", len(res.Jobs))
	}
	if res := fetch(5400, 1); len(res.Jobs) != 0 || res.RateLimitDelay != 600 {
		t.Fatalf("limited fetch %+v", res)
	}
	if res := fetch(6000, 3); len(res.Jobs) != 2 {
		t.Fatalf("new window gave %d", len(res.Jobs))
	}
}

func TestGetJobsCountsAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	mustAdd(t, d, "q", 1000, &jobqdriver.Job{ID: "a", Name: "n", Data: []byte(`{"x":1}`)}, &jobqdriver.Job{ID: "b"}, &jobqdriver.Job{ID: "c", Delay: 100}, &jobqdriver.Job{ID: "p", Priority: 3})
	c, err := d.Counts(ctx, "q", []string{"waiting", "delayed", "prioritized", "paused", "active"})
	if err != nil {
		t.Fatal(err)
	}
	if c["waiting"] != 2 || c["delayed"] != 1 || c["prioritized"] != 1 || c["paused"] != 0 || c["active"] != 0 {
		t.Fatalf("counts %v", c)
	}
	jobs, err := d.GetJobs(ctx, "q", []string{"waiting"}, 0, -1, true)
	if err != nil || !slices.Equal(ids(jobs), []string{"a", "b"}) {
		t.Fatalf("asc %v %v", ids(jobs), err)
	}
	jobs, _ = d.GetJobs(ctx, "q", []string{"waiting"}, 0, 0, false)
	if !slices.Equal(ids(jobs), []string{"b"}) {
		t.Fatalf("desc %v", ids(jobs))
	}
	j, err := d.GetJob(ctx, "q", "a")
	if err != nil || j.State != "waiting" || string(j.Data) != `{"x":1}` || j.Name != "n" {
		t.Fatalf("get %+v %v", j, err)
	}
	if _, err := d.GetJob(ctx, "q", "nope"); !errorsIs(err, jobqdriver.ErrJobNotFound) {
		t.Fatalf("missing job: %v", err)
	}
	if err := d.Promote(ctx, "q", "a", 1000); !errorsIs(err, jobqdriver.ErrNotInState) {
		t.Fatalf("promote waiting: %v", err)
	}
	if err := d.Promote(ctx, "q", "c", 1000); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.JobState(ctx, "q", "c"); s != "waiting" {
		t.Fatalf("promoted state %s", s)
	}
	if n, err := d.AddLog(ctx, "q", "a", "l1", 2); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	d.AddLog(ctx, "q", "a", "l2", 2)
	if n, _ := d.AddLog(ctx, "q", "a", "l3", 2); n != 2 {
		t.Fatalf("kept %d", n)
	}
	lines, total, err := d.Logs(ctx, "q", "a", 0, -1, true)
	if err != nil || total != 2 || !slices.Equal(lines, []string{"l2", "l3"}) {
		t.Fatalf("logs %v %d %v", lines, total, err)
	}
	if err := d.UpdateProgress(ctx, "q", "a", []byte(`50`)); err != nil {
		t.Fatal(err)
	}
	j = fetchN(t, d, "q", 1, 2000).Jobs[0]
	if err := d.Remove(ctx, "q", j.ID, false); !errorsIs(err, jobqdriver.ErrJobActive) {
		t.Fatalf("remove active: %v", err)
	}
	if err := d.Obliterate(ctx, "q", false); !errorsIs(err, jobqdriver.ErrQueueNotEmpty) {
		t.Fatalf("obliterate: %v", err)
	}
	if err := d.Remove(ctx, "q", "b", false); err != nil {
		t.Fatal(err)
	}
	if err := d.Drain(ctx, "q", true); err != nil {
		t.Fatal(err)
	}
	c, _ = d.Counts(ctx, "q", []string{"waiting", "prioritized", "active"})
	if c["waiting"] != 0 || c["prioritized"] != 0 || c["active"] != 1 {
		t.Fatalf("after drain %v", c)
	}
	if err := d.Obliterate(ctx, "q", true); err != nil {
		t.Fatal(err)
	}
	if c, _ := d.Counts(ctx, "q", []string{"active"}); c["active"] != 0 {
		t.Fatal("obliterate left jobs")
	}
}
