package faults

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/redistest"
	"github.com/sevra/atlas/jobq"
)

// crashRig runs worker child processes and collects what they report.
type crashRig struct {
	t      *testing.T
	env    []string
	mu     sync.Mutex
	events []childEvent // every line of every incarnation, in arrival order
	inc    int          // incarnations started
	slots  []*childProc
	wg     sync.WaitGroup
}

// childEvent is one line a worker child wrote: kind S, D or C for job id.
type childEvent struct {
	kind string
	id   string
	inc  int
	at   time.Time
}

type childProc struct {
	cmd    *exec.Cmd
	inc    int
	stderr *bytes.Buffer
	ready  chan struct{}
}

// start launches a worker child in slot i and waits until its worker runs.
func (r *crashRig) start(i int) {
	r.t.Helper()
	r.mu.Lock()
	r.inc++
	inc := r.inc
	r.mu.Unlock()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), r.env...)
	p := &childProc{cmd: cmd, inc: inc, stderr: &bytes.Buffer{}, ready: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start worker child: %v", err)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 3 {
				continue
			}
			if f[0] == "R" {
				close(p.ready)
				continue
			}
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			r.mu.Lock()
			r.events = append(r.events, childEvent{kind: f[0], id: f[1], inc: inc, at: time.Unix(0, ns)})
			r.mu.Unlock()
		}
	}()
	select {
	case <-p.ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		r.t.Fatalf("worker child not ready within 30s; stderr:\n%s", p.stderr)
	}
	r.slots[i] = p
}

// kill SIGKILLs slot i's process, reaps it and returns when it died.
func (r *crashRig) kill(i int) (inc int, at time.Time) {
	p := r.slots[i]
	at = time.Now()
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	return p.inc, at
}

func (r *crashRig) stopAll() {
	for i, p := range r.slots {
		if p != nil {
			r.kill(i)
			r.slots[i] = nil
		}
	}
	r.wg.Wait()
}

// kill is one SIGKILL: which incarnation and when.
type kill struct {
	inc int
	at  time.Time
}

// TestWorkerCrashes: N jobs, 4 worker processes, a random one SIGKILLed
// every few seconds and restarted. Every job completes; a job runs twice
// only if it was in flight in a killed process, and each such job is
// marked stalled; each killed process's jobs start again within
// lockDuration + stalledInterval (plus a scheduling allowance).
func TestWorkerCrashes(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		c := redistest.Client(t)
		prefix := redistest.Prefix(t, c, "faults-crash")
		crashScenario(t, "redis", os.Getenv("ATLAS_TEST_REDIS_URL"), prefix)
	})
	t.Run("sqlite", func(t *testing.T) {
		crashScenario(t, "sqlite", filepath.Join(t.TempDir(), "queue.db"), "faults")
	})
}

func crashScenario(t *testing.T, backend, dsn, prefix string) {
	n := pick(3000, 100_000)
	const workers = 4
	lock, stalled := 3*time.Second, 1500*time.Millisecond
	killEvery := pick(1500*time.Millisecond, 3*time.Second)
	// The stalled check runs on a timer in each process and the machine is
	// shared: allow this much beyond lockDuration + stalledInterval.
	const allowance = 2 * time.Second
	work := pick(40*time.Millisecond, 5*time.Millisecond)

	ctx := t.Context()
	drv, err := openBackend(ctx, backend, dsn, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	q := jobq.NewQueue(fmt.Sprintf("crash-%d", rand.Uint32()), drv, nil)
	for i := 0; i < n; i += 1000 {
		var bulk []jobq.BulkJob
		for k := i; k < min(i+1000, n); k++ {
			bulk = append(bulk, jobq.BulkJob{Name: "j", Data: map[string]int{"k": k},
				Opts: &jobq.JobOptions{JobID: fmt.Sprintf("job-%d", k)}})
		}
		if _, err := q.AddBulk(ctx, bulk); err != nil {
			t.Fatalf("add: %v", err)
		}
	}

	r := &crashRig{t: t, slots: make([]*childProc, workers), env: []string{
		childEnv + "=worker", backendEnv + "=" + backend, dsnEnv + "=" + dsn, prefixEnv + "=" + prefix,
		queueEnv + "=" + q.Name(), fmt.Sprintf("%s=%d", lockEnv, lock.Milliseconds()),
		fmt.Sprintf("%s=%d", stalledEnv, stalled.Milliseconds()), fmt.Sprintf("%s=%d", workEnv, work.Milliseconds()),
	}}
	t.Cleanup(r.stopAll)
	for i := range workers {
		r.start(i)
	}
	began := time.Now()
	var kills []kill
	deadline := time.Now().Add(pick(3*time.Minute, 60*time.Minute))
	completed := func() int64 {
		c, err := q.GetJobCounts(ctx, jobq.StateCompleted)
		if err != nil {
			t.Logf("counts: %v", err)
			return -1
		}
		return c[jobq.StateCompleted]
	}
	// Kill a random worker every killEvery until the last kill is far
	// enough from the end for its jobs to recover; then let them drain.
	for completed() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d jobs completed after %s", completed(), n, time.Since(began))
		}
		time.Sleep(killEvery)
		if completed() >= int64(n*9/10) {
			continue
		}
		i := rand.IntN(workers)
		inc, at := r.kill(i)
		kills = append(kills, kill{inc, at})
		r.start(i)
	}
	elapsed := time.Since(began)
	// Let the stalled checks and in-flight lines settle, then stop.
	time.Sleep(200 * time.Millisecond)
	r.stopAll()

	r.mu.Lock()
	events := append([]childEvent(nil), r.events...)
	r.mu.Unlock()
	acct := account(events, kills)

	counts, err := q.GetJobCounts(ctx, jobq.StateCompleted, jobq.StateFailed, jobq.StateWaiting, jobq.StateActive, jobq.StateDelayed)
	if err != nil {
		t.Fatal(err)
	}
	if counts[jobq.StateCompleted] != int64(n) || counts[jobq.StateFailed] != 0 {
		t.Errorf("backend counts %v, want %d completed and nothing else", counts, n)
	}
	if len(acct.done) != n {
		t.Errorf("%d distinct jobs did their work, want %d", len(acct.done), n)
	}
	for id := range acct.dups {
		if !acct.inFlight[id] {
			t.Errorf("job %s ran its work %d times but was not in flight in a killed process", id, acct.done[id])
		}
	}
	// A job in flight in a killed process that had not yet done its work,
	// or that did it twice, must have been returned by the stalled check.
	stalledSeen := 0
	for id := range acct.mustStall {
		j, err := q.GetJob(ctx, id)
		if err != nil {
			t.Errorf("job %s: %v", id, err)
			continue
		}
		if j.StalledCount < 1 {
			t.Errorf("job %s was in flight in a killed process but its stalled count is %d", id, j.StalledCount)
		} else {
			stalledSeen++
		}
	}
	bound := lock + stalled
	if acct.recovery > bound+allowance {
		t.Errorf("slowest recovery %s, want within lockDuration+stalledInterval %s (+%s allowance)", acct.recovery, bound, allowance)
	}
	if len(kills) == 0 {
		t.Errorf("no worker was killed (the jobs finished within %s)", killEvery)
	}
	record(t, row{
		Scenario: "worker SIGKILL every " + killEvery.String(), Backend: backend,
		Offered: n, Completed: int(counts[jobq.StateCompleted]), Duplicated: len(acct.dups),
		Lost: n - int(counts[jobq.StateCompleted]), Recovery: acct.recovery, Bound: bound,
		Notes: fmt.Sprintf("4 processes × %d; %d kills; %d jobs in flight at kills, of which %d not yet done or done twice, each with a stalled count ≥ 1 (%d); drained in %s",
			childConcur, len(kills), len(acct.inFlight), len(acct.mustStall), stalledSeen, elapsed.Round(time.Second)),
	})
}

// crashAccount is what the children's lines say about a crash run.
type crashAccount struct {
	done      map[string]int  // job id → times its work was done
	dups      map[string]bool // done more than once
	inFlight  map[string]bool // started in a killed incarnation and not acknowledged by it
	mustStall map[string]bool // in flight without work done, or done twice
	recovery  time.Duration   // longest kill → restart of one of its in-flight jobs
}

func account(events []childEvent, kills []kill) crashAccount {
	a := crashAccount{done: map[string]int{}, dups: map[string]bool{}, inFlight: map[string]bool{}, mustStall: map[string]bool{}}
	type key struct {
		inc int
		id  string
	}
	seen := map[key]map[string]bool{}
	starts := map[string][]childEvent{}
	for _, e := range events {
		if e.kind == "S" {
			starts[e.id] = append(starts[e.id], e)
		}
		k := key{e.inc, e.id}
		if seen[k] == nil {
			seen[k] = map[string]bool{}
		}
		seen[k][e.kind] = true
		if e.kind == "D" {
			a.done[e.id]++
			if a.done[e.id] > 1 {
				a.dups[e.id] = true
				a.mustStall[e.id] = true
			}
		}
	}
	killedAt := map[int]time.Time{}
	for _, k := range kills {
		killedAt[k.inc] = k.at
	}
	for k, kinds := range seen {
		at, killed := killedAt[k.inc]
		if !killed || !kinds["S"] || kinds["C"] {
			continue
		}
		a.inFlight[k.id] = true
		if !kinds["D"] {
			a.mustStall[k.id] = true
		}
		// the first start of this job by a later incarnation
		for _, e := range starts[k.id] {
			if e.inc != k.inc && e.at.After(at) {
				a.recovery = max(a.recovery, e.at.Sub(at))
				break
			}
		}
	}
	return a
}
