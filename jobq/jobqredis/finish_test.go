package jobqredis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestFinishPlainHint: a finish that carries the worker's hint (no
// parent, no deduplication id, attempts made as fetched) reaches the same
// outcomes as one that reads the job: a deleted job is not found, a job
// with a pending child may not complete, and a kept job's attempts made
// and result are stored (read back with direct commands).
func TestFinishPlainHint(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	const q = "hint"
	finish := func(j *jobqdriver.Job, plain bool, atm int) error {
		errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{
			Queue: q, ID: j.ID, Token: j.Token, ReturnValue: []byte(`{"ok":1}`),
			Now: now, Plain: plain, AttemptsMade: atm,
		}}, nil)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		return errs[0]
	}
	for _, plain := range []bool{true, false} {
		// a job whose hash is gone
		mustAdd(t, d, q, now, job("", "gone"))
		f := fetchN(t, d, q, 1, now)
		if len(f.Jobs) != 1 {
			t.Fatalf("fetched %d jobs", len(f.Jobs))
		}
		gone := f.Jobs[0]
		d.client.Del(ctx, d.jobKey(q, gone.ID))
		if err := finish(gone, plain, 0); !errors.Is(err, jobqdriver.ErrJobNotFound) {
			t.Errorf("plain=%v: finish of a deleted job: %v, want ErrJobNotFound", plain, err)
		}
		d.client.LRem(ctx, d.QueueKey(q)+":active", 0, gone.ID)

		// a job with a child added while it runs
		mustAdd(t, d, q, now, job("", "parent"))
		f = fetchN(t, d, q, 1, now)
		parent := f.Jobs[0]
		child := job("", "child")
		child.ParentKey = d.jobKey(q, parent.ID)
		mustAdd(t, d, q+"-kids", now, child)
		if err := finish(parent, plain, 0); !errors.Is(err, jobqdriver.ErrPendingChildren) {
			t.Errorf("plain=%v: finish with a pending child: %v, want ErrPendingChildren", plain, err)
		}

		// a kept job that failed twice before
		mustAdd(t, d, q, now, job("", "kept"))
		f = fetchN(t, d, q, 1, now)
		kept := f.Jobs[0]
		d.client.HSet(ctx, d.jobKey(q, kept.ID), "atm", 2)
		d.client.SAdd(ctx, d.QueueKey(q)+":stalled", kept.ID) // as a stalled sweep marks it
		if err := finish(kept, plain, 2); err != nil {
			t.Fatalf("plain=%v: finish: %v", plain, err)
		}
		h := d.client.HGetAll(ctx, d.jobKey(q, kept.ID)).Val()
		if h["atm"] != "3" || h["returnvalue"] != `{"ok":1}` || h["finishedOn"] == "" {
			t.Errorf("plain=%v: kept job hash %v: want atm 3, the return value and finishedOn", plain, h)
		}
		if _, err := d.client.ZScore(ctx, d.QueueKey(q)+":completed", kept.ID).Result(); err != nil {
			t.Errorf("plain=%v: kept job not in completed: %v", plain, err)
		}
		if n := d.client.Exists(ctx, d.jobKey(q, kept.ID)+":lock").Val(); n != 0 {
			t.Errorf("plain=%v: lock left after finish", plain)
		}
		if d.client.SIsMember(ctx, d.QueueKey(q)+":stalled", kept.ID).Val() {
			t.Errorf("plain=%v: job left in stalled", plain)
		}
	}
}

// TestEventsStayBounded: batched adds, fetches and finishes trim the
// events stream once per call, so it stays near opts.maxLenEvents
// (approximate trimming keeps whole stream nodes of 100 entries) instead
// of growing with every event: checked after every call but the last
// (whose "drained" event trims it anyway), 800 events in all.
func TestEventsStayBounded(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	const q = "bounded"
	checkLen := func(after string) {
		t.Helper()
		if n := d.client.XLen(ctx, d.QueueKey(q)+":events").Val(); n > 300 {
			t.Fatalf("after %s: events stream holds %d entries with maxLenEvents 50", after, n)
		}
	}
	mustAdd(t, d, q, now, job("", "seed"))
	d.client.HSet(ctx, d.QueueKey(q)+":meta", "opts.maxLenEvents", 50)
	for range 4 {
		jobs := make([]*jobqdriver.Job, 50)
		for i := range jobs {
			jobs[i] = job("", "n")
		}
		mustAdd(t, d, q, now, jobs...)
		checkLen("add")
	}
	for {
		f := fetchN(t, d, q, 20, now)
		if len(f.Jobs) == 0 {
			break
		}
		items := make([]jobqdriver.FinishParams, len(f.Jobs))
		for i, j := range f.Jobs {
			items[i] = jobqdriver.FinishParams{Queue: q, ID: j.ID, Token: j.Token, Now: now,
				Keep: &jobqdriver.Keep{Count: 0}, Plain: true, AttemptsMade: j.AttemptsMade}
		}
		errs, _, err := d.Finish(ctx, items, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				t.Fatal(e)
			}
		}
		checkLen("fetch and finish")
	}
	if n := d.client.LLen(ctx, d.QueueKey(q)+":active").Val(); n != 0 {
		t.Fatalf("%d jobs left active", n)
	}
}

// TestFinishRemovesEveryKey: a job removed on completion leaves no key
// behind, with and without the worker's hint, whether it has only its
// hash and lock or also logs (read back with EXISTS).
func TestFinishRemovesEveryKey(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	const q = "rm"
	for _, plain := range []bool{true, false} {
		for _, logs := range []bool{false, true} {
			mustAdd(t, d, q, now, job("", "n"))
			j := fetchN(t, d, q, 1, now).Jobs[0]
			if logs {
				if _, err := d.AddLog(ctx, q, j.ID, "a line", 0); err != nil {
					t.Fatal(err)
				}
			}
			jk := d.jobKey(q, j.ID)
			if logs && d.client.Exists(ctx, jk+":logs").Val() != 1 {
				t.Fatalf("no logs key after AddLog")
			}
			errs, _, err := d.Finish(ctx, []jobqdriver.FinishParams{{
				Queue: q, ID: j.ID, Token: j.Token, Now: now, Keep: &jobqdriver.Keep{Count: 0},
				Plain: plain, AttemptsMade: j.AttemptsMade,
			}}, nil)
			if err != nil || errs[0] != nil {
				t.Fatalf("Finish: %v %v", err, errs)
			}
			if n := d.client.Exists(ctx, jk, jk+":lock", jk+":logs").Val(); n != 0 {
				t.Errorf("plain=%v logs=%v: %d of the job's keys left", plain, logs, n)
			}
		}
	}
}
