package jobqredis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq"
)

// startSentinel starts "redis-server <conf> --sentinel" monitoring
// master as "mymaster" with quorum 1.
func startSentinel(t *testing.T, master *redisProc) *redisProc {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t, false)
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir %s\n"+
		"sentinel monitor mymaster 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds mymaster 2000\n"+
		"sentinel failover-timeout mymaster 10000\n", port, dir, master.port)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &redisProc{t: t, port: port, dir: dir, args: []string{path, "--sentinel"}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// TestSentinel opens the driver through a redis-sentinel:// URL (1 master,
// 1 replica, 1 sentinel), runs a jobq.Worker, forces a failover and checks
// that the worker keeps processing jobs added afterwards on the new master.
func TestSentinel(t *testing.T) {
	needBinaries(t, "redis-server")
	ctx := context.Background()
	fast := []string{"--save", "", "--appendonly", "no", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}
	master := startRedisProc(t, "", false, fast...)
	replica := startRedisProc(t, "", false, append(fast,
		"--replicaof", "127.0.0.1", fmt.Sprint(master.port))...)
	rc := redis.NewClient(&redis.Options{Addr: replica.addr()})
	defer rc.Close()
	eventuallyT(t, 10*time.Second, "replica in sync", func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})
	sent := startSentinel(t, master)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sent.addr()})
	defer sc.Close()
	eventuallyT(t, 15*time.Second, "sentinel sees the replica", func() bool {
		rs, err := sc.Replicas(ctx, "mymaster").Result()
		return err == nil && len(rs) == 1
	})

	d, err := Open(ctx, fmt.Sprintf("redis-sentinel://%s/mymaster/0?dial_timeout=1s", sent.addr()), &Config{Prefix: "{sent}"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	q := jobq.NewQueue("sq", d, nil)
	var mu sync.Mutex
	done := map[string]bool{}
	w, err := jobq.NewWorker("sq", d, func(ctx context.Context, j *jobq.Job) (any, error) {
		mu.Lock()
		done[j.ID] = true
		mu.Unlock()
		return "ok", nil
	}, &jobq.WorkerConfig{Name: "sw", LockDuration: 5 * time.Second, StalledInterval: time.Second, DrainDelay: 500 * time.Millisecond,
		OnError: func(err error) { t.Logf("worker error (expected around the failover): %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close(context.Background()) }()
	doneIDs := func(ids ...string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if !done[id] {
					return false
				}
			}
			return true
		}
	}
	if _, err := q.Add(ctx, "before", map[string]int{"n": 1}, &jobq.JobOptions{JobID: "before"}); err != nil {
		t.Fatal(err)
	}
	eventuallyT(t, 10*time.Second, "job before failover processed", doneIDs("before"))
	// the Go worker's blocking connection is named as BullMQ names it
	mc := redis.NewClient(&redis.Options{Addr: master.addr()})
	defer mc.Close()
	if list, _ := mc.ClientList(ctx).Result(); !strings.Contains(list, "name="+WorkerClientName("{sent}", "sq", "sw")) {
		t.Fatalf("worker connection not named on the master:\n%s", list)
	}

	// failover: the replica becomes master
	eventuallyT(t, 20*time.Second, "SENTINEL FAILOVER accepted", func() bool {
		return sc.Failover(ctx, "mymaster").Err() == nil
	})
	eventuallyT(t, 30*time.Second, "replica promoted", func() bool {
		a, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		return err == nil && len(a) == 2 && a[1] == fmt.Sprint(replica.port)
	})
	eventuallyT(t, 20*time.Second, "replica reports role master", func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "role:master")
	})
	// Writes the old master accepts before sentinel demotes it would be lost
	// (asynchronous replication), and the demotion takes ~10s: the old
	// master "crashes" instead.
	master.kill9()
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("after-%d", i)
		var err error
		for range 100 { // the first writes may hit the demoted master (READONLY) or closed connections
			if _, err = q.Add(ctx, "after", map[string]int{"n": i}, &jobq.JobOptions{JobID: id}); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("add after failover: %v", err)
		}
		ids = append(ids, id)
	}
	eventuallyT(t, 30*time.Second, "jobs after failover processed by the same worker", doneIDs(ids...))
	if n, _ := rc.Exists(ctx, d.jobKey("sq", "after-0")).Result(); n != 1 {
		t.Fatal("job not on the new master")
	}
}

// eventuallyT polls cond every 50ms until it holds or timeout passes.
func eventuallyT(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("%s: %s", what, d.Round(time.Millisecond))
	}
}
