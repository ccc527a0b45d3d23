package jobqtest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

// schedulerTests covers point 5: job schedulers.
func schedulerTests(t *testing.T, nb newBackendFunc) {
	runGroup(t, nb, []testCase{
		{"EveryOneJobPerTick", testEveryOneJobPerTick},
		{"CronPatternTZ", testCronPatternTZ},
		{"UpsertGetRemove", testUpsertGetRemove},
		{"InvalidOptions", testSchedulerInvalid},
	})
}

// tickOf returns the run time encoded in a scheduler job id
// "repeat:<scheduler>:<millis>".
func tickOf(t testing.TB, id string) int64 {
	t.Helper()
	i := strings.LastIndexByte(id, ':')
	ms, err := strconv.ParseInt(id[i+1:], 10, 64)
	if i < 0 || err != nil || !strings.HasPrefix(id, "repeat:") {
		t.Fatalf("scheduler job id %q is not repeat:<id>:<millis>", id)
	}
	return ms
}

func testEveryOneJobPerTick(h *harness) {
	t := h.t
	q := h.queue("", nil)
	const every = 200 * time.Millisecond
	var runs recorder[*jobq.Job]
	proc := func(ctx context.Context, j *jobq.Job) (any, error) {
		runs.add(j)
		return nil, nil
	}
	for range 3 {
		h.worker(q.Name(), proc, &jobq.WorkerConfig{Concurrency: 2})
	}
	// Three producers upsert the same scheduler at the same moment.
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			p := jobq.NewQueue(q.Name(), h.drv, nil)
			<-start
			_, err := p.UpsertJobScheduler(h.ctx, "tick", jobq.Repeat{Every: every}, &jobq.JobTemplate{Name: "tick", Data: map[string]string{"k": "v"}})
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("UpsertJobScheduler: %v", err)
		}
	}
	eventually(t, waitTimeout, func() string {
		if runs.len() == 0 {
			return "no scheduler job ran"
		}
		return ""
	})
	first := tickOf(t, runs.all()[0].ID)
	const window = 1500 * time.Millisecond
	time.Sleep(window + 3*every) // a measurement window, not an assertion of speed
	if ok, err := q.RemoveJobScheduler(h.ctx, "tick"); err != nil || !ok {
		t.Fatalf("RemoveJobScheduler = %v, %v", ok, err)
	}
	// Each upsert schedules a run "now", so the upserts themselves may
	// yield one job each; from the first tick on (first+every), every tick
	// must yield exactly one job.
	seen := map[string]bool{}
	var ticks []int64
	burst := 0
	for _, j := range runs.all() {
		if seen[j.ID] {
			t.Errorf("scheduler job %s ran twice", j.ID)
		}
		seen[j.ID] = true
		if j.RepeatJobKey != "tick" || j.Name != "tick" {
			t.Errorf("job %s: RepeatJobKey %q name %q, want tick, tick", j.ID, j.RepeatJobKey, j.Name)
		}
		wantJSON(t, "scheduler job data", j.Data, `{"k":"v"}`)
		switch ms := tickOf(t, j.ID); {
		case ms < first+every.Milliseconds()/2:
			burst++
		case ms <= first+window.Milliseconds():
			ticks = append(ticks, ms)
		}
	}
	t.Logf("3 concurrent upserts ran %d jobs before the first tick", burst)
	slices.Sort(ticks)
	for i := 1; i < len(ticks); i++ {
		if gap := ticks[i] - ticks[i-1]; gap < every.Milliseconds()/2 {
			t.Errorf("ticks %d and %d are %d ms apart with every=%s: more than one job per tick (ticks %v)", ticks[i-1], ticks[i], gap, every, ticks)
			break
		}
	}
	want := int(window/every) - 1 // ticks in [first+every, first+window]
	if len(ticks) < want-1 || len(ticks) > want+1 {
		t.Errorf("%d ticks within %s at every=%s, want %d±1 (ticks %v)", len(ticks), window, every, want, ticks)
	}
	// After removal no more jobs come.
	n := runs.len()
	never(t, 3*every, func() string {
		if m := runs.len(); m > n+1 {
			return fmt.Sprintf("%d scheduler jobs ran after RemoveJobScheduler", m-n)
		}
		return ""
	})
}

func testCronPatternTZ(h *harness) {
	t := h.t
	q := h.queue("", nil)
	var runs recorder[*jobq.Job]
	proc := func(ctx context.Context, j *jobq.Job) (any, error) {
		runs.add(j)
		return nil, nil
	}
	h.worker(q.Name(), proc, nil)
	h.worker(q.Name(), proc, nil)
	first, err := q.UpsertJobScheduler(h.ctx, "cron", jobq.Repeat{Pattern: "*/1 * * * * *", TZ: "America/New_York"},
		&jobq.JobTemplate{Name: "cron-job", Data: map[string]int{"c": 1}, Opts: &jobq.JobOptions{Attempts: 2}})
	if err != nil {
		t.Fatalf("UpsertJobScheduler: %v", err)
	}
	if ms := tickOf(t, first.ID); ms%1000 != 0 {
		t.Errorf("first cron job %s is not on a whole second", first.ID)
	}
	eventually(t, waitTimeout, func() string {
		if n := runs.len(); n < 3 {
			return fmt.Sprintf("%d cron jobs ran, want 3", n)
		}
		return ""
	})
	if _, err := q.RemoveJobScheduler(h.ctx, "cron"); err != nil {
		t.Fatal(err)
	}
	var ticks []int64
	for _, j := range runs.all() {
		ms := tickOf(t, j.ID)
		if ms%1000 != 0 {
			t.Errorf("cron job %s not on a whole second", j.ID)
		}
		ticks = append(ticks, ms)
		if j.Name != "cron-job" || j.Opts.Attempts != 2 || j.RepeatJobKey != "cron" {
			t.Errorf("cron job %s: name %q attempts %d rjk %q; want the template", j.ID, j.Name, j.Opts.Attempts, j.RepeatJobKey)
		}
		wantJSON(t, "cron job data", j.Data, `{"c":1}`)
	}
	slices.Sort(ticks)
	if len(slices.Compact(slices.Clone(ticks))) != len(ticks) {
		t.Errorf("a cron tick ran twice: %v", ticks)
	}
	for i := 1; i < len(ticks); i++ {
		if ticks[i]-ticks[i-1] != 1000 {
			t.Errorf("cron ticks %v are not one second apart", ticks)
			break
		}
	}
}

func testUpsertGetRemove(h *harness) {
	t := h.t
	q := h.queue("", nil)
	a, err := q.UpsertJobScheduler(h.ctx, "a", jobq.Repeat{Every: time.Hour}, &jobq.JobTemplate{Name: "hourly"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.UpsertJobScheduler(h.ctx, "b", jobq.Repeat{Pattern: "0 0 * * *", TZ: "Europe/Berlin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tickOf(t, a.ID) == 0 || a.RepeatJobKey != "a" {
		t.Errorf("first job of a: %s rjk %q", a.ID, a.RepeatJobKey)
	}
	if s := h.state(q, b.ID); s != jobq.StateDelayed {
		t.Errorf("first job of the midnight scheduler is %s, want delayed", s)
	}
	list, err := q.GetJobSchedulers(h.ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("GetJobSchedulers = %+v, %v; want 2", list, err)
	}
	if list[0].ID != "a" || list[1].ID != "b" {
		t.Errorf("schedulers ordered %s, %s; want a (runs now), b (midnight)", list[0].ID, list[1].ID)
	}
	if list[0].Every != time.Hour || list[0].Name != "hourly" || list[1].Pattern != "0 0 * * *" || list[1].TZ != "Europe/Berlin" {
		t.Errorf("schedulers = %+v", list)
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	if next := list[1].Next.In(loc); next.Hour() != 0 || next.Minute() != 0 || !next.After(time.Now()) {
		t.Errorf("b's next run %v, want a future Berlin midnight", next)
	}
	if _, err := q.UpsertJobScheduler(h.ctx, "a", jobq.Repeat{Every: 2 * time.Hour}, &jobq.JobTemplate{Name: "two-hourly"}); err != nil {
		t.Fatal(err)
	}
	got, err := q.GetJobScheduler(h.ctx, "a")
	if err != nil || got.Every != 2*time.Hour || got.Name != "two-hourly" {
		t.Errorf("after re-upsert GetJobScheduler(a) = %+v, %v; want every 2h, two-hourly", got, err)
	}
	if list, _ := q.GetJobSchedulers(h.ctx); len(list) != 2 {
		t.Errorf("re-upsert changed the number of schedulers to %d", len(list))
	}
	if ok, err := q.RemoveJobScheduler(h.ctx, "b"); err != nil || !ok {
		t.Errorf("RemoveJobScheduler(b) = %v, %v; want true", ok, err)
	}
	if ok, err := q.RemoveJobScheduler(h.ctx, "b"); err != nil || ok {
		t.Errorf("second RemoveJobScheduler(b) = %v, %v; want false", ok, err)
	}
	_, err = q.GetJobScheduler(h.ctx, "b")
	wantErr(t, "GetJobScheduler of a removed scheduler", err, jobq.ErrJobNotFound)
	if s := h.state(q, b.ID); s != jobq.StateUnknown {
		t.Errorf("removed scheduler's pending job is %s, want removed", s)
	}
}

func testSchedulerInvalid(h *harness) {
	t := h.t
	q := h.queue("", nil)
	for name, r := range map[string]jobq.Repeat{
		"bad pattern":    {Pattern: "not a cron"},
		"bad field":      {Pattern: "61 * * * *"},
		"bad time zone":  {Pattern: "* * * * *", TZ: "Mars/Olympus_Mons"},
		"every and cron": {Every: time.Second, Pattern: "* * * * *"},
		"neither":        {},
	} {
		_, err := q.UpsertJobScheduler(h.ctx, "s", r, nil)
		wantErr(t, name, err, jobq.ErrInvalidOption)
	}
	if list, err := q.GetJobSchedulers(h.ctx); err != nil || len(list) != 0 {
		t.Errorf("invalid upserts stored schedulers: %+v, %v", list, err)
	}
}
