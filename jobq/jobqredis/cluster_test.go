package jobqredis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq/jobqdriver"
	"github.com/sevra/atlas/jobq/jobqtest"
)

// newClusterDriver returns a driver over cc with a unique hash-tagged
// prefix; its keys are deleted from every master when the test ends.
func newClusterDriver(t *testing.T, cc *redis.ClusterClient) *Driver {
	t.Helper()
	prefix := "{jqc-" + randHex(6) + "}"
	d, err := New(cc, &Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			cleanupPrefix(t, c, prefix)
			return nil
		})
	})
	return d
}

// TestCluster runs the conformance suite and the waiter on a local
// 3-master Redis Cluster. Each backend uses its own hash tag, so the
// backends of one run spread over the three masters.
func TestCluster(t *testing.T) {
	needBinaries(t, "redis-server", "redis-cli")
	start := time.Now()
	cc := startCluster(t)
	t.Logf("cluster up in %s", time.Since(start))

	t.Run("Conformance", func(t *testing.T) {
		jobqtest.Exercise(t, func(t *testing.T) jobqdriver.Driver { return newClusterDriver(t, cc) })
	})

	t.Run("Waiter", func(t *testing.T) {
		d := newClusterDriver(t, cc)
		ctx := context.Background()
		w, err := d.NewWaiter(ctx, "wq", "cw")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		t0 := time.Now()
		if err := w.Wait(ctx, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if time.Since(t0) < 150*time.Millisecond {
			t.Fatal("empty queue did not block")
		}
		// the named connection sits on the master that owns the queue's slot
		master, err := cc.MasterForKey(ctx, d.key("wq", "marker"))
		if err != nil {
			t.Fatal(err)
		}
		list, _ := master.ClientList(ctx).Result()
		if want := WorkerClientName(d.prefix, "wq", "cw"); !strings.Contains(list, "name="+want) {
			t.Fatalf("CLIENT LIST of %s lacks %s", master.Options().Addr, want)
		}
		done := make(chan error, 1)
		t0 = time.Now()
		go func() { done <- w.Wait(ctx, 5*time.Second) }()
		time.Sleep(50 * time.Millisecond)
		mustAdd(t, d, "wq", time.Now().UnixMilli(), job("a", "n"))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if time.Since(t0) > 2*time.Second {
			t.Fatal("waiter not woken by add")
		}
		if r := fetchN(t, d, "wq", 1, time.Now().UnixMilli()); len(r.Jobs) != 1 {
			t.Fatalf("fetched %v", ids(r.Jobs))
		}
	})

	t.Run("FlowAcrossQueues", func(t *testing.T) {
		d := newClusterDriver(t, cc)
		ctx := context.Background()
		const now = 1_700_000_000_000
		root := &jobqdriver.FlowNode{Job: flowJob("parents", "p", nil), Children: []*jobqdriver.FlowNode{
			{Job: flowJob("kids", "c1", nil)},
			{Job: flowJob("kids2", "c2", func(j *jobqdriver.Job) { j.Opts.FailParentOnFailure = true })},
		}}
		if err := d.AddFlow(ctx, root, now); err != nil {
			t.Fatal(err)
		}
		finishOK(t, d, fetchN(t, d, "kids", 1, now).Jobs[0], `1`, now)
		failJob(t, d, fetchN(t, d, "kids2", 1, now).Jobs[0], now)
		if st, _ := d.JobState(ctx, "parents", root.Job.ID); st != jobqdriver.StateWaiting {
			t.Fatalf("parent state %s", st)
		}
		if err := d.Remove(ctx, "parents", root.Job.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := d.Obliterate(ctx, "kids", true); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("PrefixWithoutHashTag", func(t *testing.T) {
		ctx := context.Background()
		prefix := "jqc" + randHex(4)
		d, err := New(cc, &Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				cleanupPrefix(t, c, prefix)
				return nil
			})
		})
		_, err = d.Add(ctx, "q", []*jobqdriver.Job{job("a", "n")}, 1)
		if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") || !strings.Contains(err.Error(), "hash tag") {
			t.Fatalf("add without a hash tag: %v", err)
		}
		// a hash tag in the queue name works too (single-queue use)
		mustAdd(t, d, "{q}", 1, job("a", "n"))
		finishOK(t, d, fetchN(t, d, "{q}", 1, 1).Jobs[0], `1`, 2)
		if st, _ := d.JobState(ctx, "{q}", "a"); st != jobqdriver.StateCompleted {
			t.Fatalf("state %s", st)
		}
	})

	t.Run("OpenClusterURL", func(t *testing.T) {
		ctx := context.Background()
		prefix := "{jqc-" + randHex(6) + "}"
		d, err := Open(ctx, "redis-cluster://"+strings.Join(cc.Options().Addrs, ",")+"/?dial_timeout=2s", &Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		t.Cleanup(func() {
			_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				cleanupPrefix(t, c, prefix)
				return nil
			})
		})
		if _, ok := d.Client().(*redis.ClusterClient); !ok {
			t.Fatalf("client is %T", d.Client())
		}
		w, err := d.NewWaiter(ctx, "q", "")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		mustAdd(t, d, "q", 1, job("a", "n"))
		if err := w.Wait(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		if r := fetchN(t, d, "q", 1, 1); len(r.Jobs) != 1 {
			t.Fatalf("fetched %v", ids(r.Jobs))
		}
	})

	t.Run("SpreadOverMasters", func(t *testing.T) {
		// different hash tags must reach more than one master, or the test
		// above proved nothing about routing
		ctx := context.Background()
		seen := map[string]bool{}
		for range 30 {
			m, err := cc.MasterForKey(ctx, "{jqc-"+randHex(6)+"}:q:wait")
			if err != nil {
				t.Fatal(err)
			}
			seen[m.Options().Addr] = true
		}
		if len(seen) < 2 {
			t.Fatalf("30 hash tags all on %v", seen)
		}
	})
}
