package jobqredis

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq"
)

// Environment of the Go worker child that TestInteropMixedWorkersLoad
// starts by re-executing the test binary (see TestMain).
const (
	childQueueEnv   = "JOBQREDIS_INTEROP_CHILD_QUEUE"
	childPrefixEnv  = "JOBQREDIS_INTEROP_CHILD_PREFIX"
	childResultsEnv = "JOBQREDIS_INTEROP_CHILD_RESULTS"
)

func TestMain(m *testing.M) {
	if q := os.Getenv(childQueueEnv); q != "" {
		if err := runInteropChild(q); err != nil {
			fmt.Fprintln(os.Stderr, "interop child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runInteropChild runs a Go jobq.Worker that records each job it takes
// (HINCRBY results <id> 1), prints "processed <n>" lines, and runs until
// it is killed.
func runInteropChild(queue string) error {
	ctx := context.Background()
	url := os.Getenv("ATLAS_TEST_REDIS_URL")
	d, err := Open(ctx, url, &Config{Prefix: os.Getenv(childPrefixEnv)})
	if err != nil {
		return err
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rc := redis.NewClient(opts)
	results := os.Getenv(childResultsEnv)
	var mu sync.Mutex
	n := 0
	w, err := jobq.NewWorker(queue, d, func(ctx context.Context, j *jobq.Job) (any, error) {
		if err := rc.HIncrBy(ctx, results, j.ID, 1).Err(); err != nil {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond) // so that jobs are in flight when it is killed
		mu.Lock()
		n++
		if n == 1 || n%100 == 0 {
			fmt.Printf("processed %d\n", n)
		}
		mu.Unlock()
		return map[string]string{"by": "go-child"}, nil
	}, &jobq.WorkerConfig{Name: "go-child", Concurrency: 20, LockDuration: 2 * time.Second,
		StalledInterval: 500 * time.Millisecond, MaxStalledCount: 10, DrainDelay: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	select {}
}

// TestInteropMixedWorkersLoad (proof point 9): a Node Worker, a Go Worker
// and a Go Worker in a child process share one queue of 20,000 jobs (2,000
// with -short); the child is SIGKILLed midway. Every job completes; a job
// processed twice must have been stalled (stalled counter > 0 or a
// "stalled" event), and the child's in-flight jobs are recovered by
// whichever surviving worker's stalled checker (Node's or Go's, both with
// 500ms intervals) sweeps first. The test fails unless the kill did leave
// jobs to recover.
func TestInteropMixedWorkersLoad(t *testing.T) {
	t.Parallel()
	d := newTestDriver(t)
	node := newNode(t, d, "mx")
	ctx := context.Background()
	total := 20000
	if testing.Short() {
		total = 2000
	}
	results := d.prefix + ":test-results"
	q := jobq.NewQueue("mx", d, nil)
	start := time.Now()
	for i := 0; i < total; i += 1000 {
		batch := make([]jobq.BulkJob, 0, 1000)
		for k := i; k < min(i+1000, total); k++ {
			batch = append(batch, jobq.BulkJob{Name: "load", Data: obj{"i": k}})
		}
		if _, err := q.AddBulk(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("added %d jobs in %v", total, time.Since(start))

	// stalled events, as written by either language's stalled checker
	var mu sync.Mutex
	stalledEv := map[string]bool{}
	qe := jobq.NewQueueEvents("mx", d, &jobq.QueueEventsConfig{BlockTimeout: 100 * time.Millisecond})
	qe.On(jobq.EventStalled, func(e jobq.Event) { mu.Lock(); stalledEv[e.JobID] = true; mu.Unlock() })
	if err := qe.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer qe.Close(ctx)

	// the child starts first and must be working when it is killed
	child := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	child.Env = append(os.Environ(), childQueueEnv+"=mx", childPrefixEnv+"="+d.prefix, childResultsEnv+"="+results)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("go child did not start")
	}
	go func() {
		for sc.Scan() {
		}
	}()

	nodeW := node.bgProof("work", obj{"name": "node-load", "concurrency": 20, "lite": true, "results": results,
		"stalledInterval": 500, "lockDuration": 2000, "maxStalledCount": 10, "timeout": 120000})
	rc := d.client
	startGoWorker(t, d, "mx", func(ctx context.Context, j *jobq.Job) (any, error) {
		if err := rc.HIncrBy(ctx, results, j.ID, 1).Err(); err != nil {
			return nil, err
		}
		return obj{"by": "go"}, nil
	}, &jobq.WorkerConfig{Name: "go-load", Concurrency: 20, LockDuration: 2 * time.Second,
		StalledInterval: 500 * time.Millisecond, MaxStalledCount: 10, DrainDelay: 100 * time.Millisecond})

	// kill the child midway
	for {
		n, err := rc.HLen(ctx, results).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n >= int64(total/3) {
			break
		}
		time.Sleep(50 * time.Millisecond) // so that jobs are in flight when it is killed
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Since(start)

	deadline := time.Now().Add(90 * time.Second)
	for {
		c, _ := d.Counts(ctx, "mx", []string{"completed", "failed"})
		if c["completed"] == int64(total) {
			break
		}
		if c["failed"] > 0 || time.Now().After(deadline) {
			t.Fatalf("counts %v of %d jobs", c, total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	done := time.Since(start)
	var nres struct {
		Completed int
		Stalled   []string
	}
	nodeW.stop(&nres)

	processed, err := rc.HGetAll(ctx, results).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(processed) != total {
		t.Fatalf("%d distinct jobs processed, want %d", len(processed), total)
	}
	// who completed what, and the stalled counters of jobs processed twice
	pipe := rc.Pipeline()
	pb := map[string]*redis.SliceCmd{}
	for id := range processed {
		pb[id] = pipe.HMGet(ctx, d.key("mx", id), "pb", "stc", "finishedOn")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	byWorker := map[string]int{}
	twice, recovered := 0, 0
	mu.Lock()
	defer mu.Unlock()
	for id, n := range processed {
		v := pb[id].Val()
		by, _ := v[0].(string)
		stc, _ := v[1].(string)
		byWorker[by]++
		if v[2] == nil {
			t.Fatalf("job %s has no finishedOn", id)
		}
		if s, _ := strconv.Atoi(stc); s > 0 || stalledEv[id] {
			recovered++
		}
		if n != "1" {
			twice++
			if s, _ := strconv.Atoi(stc); s == 0 && !stalledEv[id] {
				t.Fatalf("job %s processed %s times but never stalled", id, n)
			}
		}
	}
	t.Logf("%d jobs: child killed at %v, all completed at %v; completed by %v; processed twice %d; stalled %d (stalled events %d, node saw %d)",
		total, killedAt, done, byWorker, twice, recovered, len(stalledEv), len(nres.Stalled))
	if byWorker["go-child"] == 0 || byWorker["go-load"] == 0 || byWorker["node-load"] == 0 ||
		byWorker["go-child"]+byWorker["go-load"]+byWorker["node-load"] != total {
		t.Fatalf("completed by %v", byWorker)
	}
	if twice == 0 || recovered == 0 {
		t.Fatalf("the killed child left no stalled job to recover (twice %d, stalled %d)", twice, recovered)
	}
}
