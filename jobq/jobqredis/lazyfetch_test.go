package jobqredis

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestLazyFetchMatchesInline: a fetch of 8 jobs or more reads the job
// hashes after the script (lazyReadMin in lib.lua), a smaller one gets
// them in the script's reply; both give the worker the same jobs, as
// stored (processedOn, worker, attempts started included), and the
// hashes they leave are the same.
func TestLazyFetchMatchesInline(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	const n = 10
	fill := func(q string) {
		for i := range n {
			j := job(fmt.Sprintf("j%d", i), "lz")
			j.Data = json.RawMessage(fmt.Sprintf(`{"i":%d,"s":"%s"}`, i, "ünïcode"))
			j.Opts.Attempts = 3
			mustAdd(t, d, q, now, j)
		}
	}
	fill("lazy")
	fill("inline")
	lazy := fetchN(t, d, "lazy", n, now+1)
	var inline []*jobqdriver.Job
	for range n {
		inline = append(inline, fetchN(t, d, "inline", 1, now+1).Jobs...)
	}
	if len(lazy.Jobs) != n || len(inline) != n {
		t.Fatalf("fetched %d (one call) and %d (one by one), want %d each", len(lazy.Jobs), len(inline), n)
	}
	for i := range n {
		a, b := *lazy.Jobs[i], *inline[i]
		if a.ID != fmt.Sprintf("j%d", i) {
			t.Errorf("lazy job %d is %s, want j%d (wait order)", i, a.ID, i)
		}
		if a.Token == "" || a.State != jobqdriver.StateActive {
			t.Errorf("lazy job %s: token %q, state %q", a.ID, a.Token, a.State)
		}
		if a.ProcessedOn != now+1 || a.ProcessedBy != "w1" || a.AttemptsStarted != 1 {
			t.Errorf("lazy job %s: processedOn %d, by %q, attempts started %d; want %d, w1, 1", a.ID, a.ProcessedOn, a.ProcessedBy, a.AttemptsStarted, now+1)
		}
		if string(a.Data) != fmt.Sprintf(`{"i":%d,"s":"ünïcode"}`, i) {
			t.Errorf("lazy job %s: data %s", a.ID, a.Data)
		}
		a.Token, b.Token, a.Queue, b.Queue = "", "", "", ""
		if !reflect.DeepEqual(a, b) {
			t.Errorf("job %d differs:\n lazy   %+v\n inline %+v", i, a, b)
		}
		ha := d.client.HGetAll(ctx, d.jobKey("lazy", a.ID)).Val()
		hb := d.client.HGetAll(ctx, d.jobKey("inline", b.ID)).Val()
		if !reflect.DeepEqual(ha, hb) {
			t.Errorf("job %d hashes differ:\n lazy   %v\n inline %v", i, ha, hb)
		}
	}
}

// TestLazyFetchSkipsVanished: a job whose hash is gone between the fetch
// script and the read is left out, the others are returned.
func TestLazyFetchSkipsVanished(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for i := range 8 {
		mustAdd(t, d, "vanish", now, job(fmt.Sprintf("v%d", i), "v"))
	}
	v, err := d.run(ctx, "fetch", "vanish", fmt.Sprint(now), "30000", "w1", "", "", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7")
	if err != nil {
		t.Fatal(err)
	}
	d.client.Del(ctx, d.jobKey("vanish", "v3"))
	r, err := d.decodeFetch(ctx, "vanish", v)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Jobs) != 7 {
		t.Fatalf("got %d jobs, want 7", len(r.Jobs))
	}
	for _, j := range r.Jobs {
		if j.ID == "v3" {
			t.Fatal("the vanished job was returned")
		}
		if j.Name != "v" {
			t.Errorf("job %s: name %q, want v", j.ID, j.Name)
		}
	}
}
