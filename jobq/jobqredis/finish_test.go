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
