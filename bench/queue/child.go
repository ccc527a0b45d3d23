package main

// The child side: one contender, one scenario, in its own process, so the
// parent can read this process's CPU time and max RSS apart from its own.
//
// Protocol (stdout lines, stdin lines), shared with node/bench.js:
//
//	child → "READY"            setup done (connections open, burn-down queue filled)
//	parent → "GO"              the parent has taken its "before" snapshots
//	child → "DONE <json>"      the measured phase is over; <json> is a Result
//	parent closes stdin        the child cleans up and exits

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Spec tells a child what to run. It is passed as JSON in argv.
type Spec struct {
	Contender string `json:"contender"`
	Scenario  string `json:"scenario"` // add, bulk, burn, steady, delayed, idle, retry
	N         int    `json:"n"`
	Conc      int    `json:"conc"`
	// Workers is how many separate workers (each with concurrency Conc)
	// the scenario starts on the queue; 0 means 1. The "idle" scenario
	// (delayed jobs, 8 idle workers) sets it.
	Workers   int     `json:"workers,omitempty"`
	Keep      bool    `json:"keep"` // keep completed jobs (retention) instead of removing them
	Rate      int     `json:"rate"` // steady: offered jobs/s
	Seconds   float64 `json:"seconds"`
	Timeout   float64 `json:"timeout"` // seconds; the phase gives up after this
	Batch     int     `json:"batch"`
	RedisAddr string  `json:"redisAddr"`
	RedisDB   int     `json:"redisDB"`
	PGURL     string  `json:"pgURL"`
	SQLite    string  `json:"sqlite"`
	Queue     string  `json:"queue"`
	// Delayed scenario: delays uniform in [DelayMin, DelayMax] ms.
	DelayMin int `json:"delayMin"`
	DelayMax int `json:"delayMax"`
	// Retry scenario: each job fails Attempts-1 times, fixed backoff BackoffMS.
	Attempts  int    `json:"attempts"`
	BackoffMS int    `json:"backoffMS"`
	Profile   string `json:"profile"` // CPU profile file for the phase (Go contenders)
}

// Result is what a child reports after its phase.
type Result struct {
	Jobs    int                `json:"jobs"`    // jobs done in the phase (added, or completed)
	Seconds float64            `json:"seconds"` // phase wall time
	Lat     map[string]float64 `json:"lat,omitempty"`
	Offered int                `json:"offered,omitempty"` // steady: jobs offered
	Note    string             `json:"note,omitempty"`
	Err     string             `json:"err,omitempty"`
}

// payload is the job data every contender carries.
type payload struct {
	I int   `json:"i"`
	T int64 `json:"t"`           // enqueue time, unix ns
	D int64 `json:"d,omitempty"` // due time, unix ns (delayed)
}

var errNA = errors.New("n/a")

// handler is called by each contender's worker at the start of each job
// attempt; attempt counts from 1. A non-nil error fails the attempt.
type handler func(p payload, attempt int) error

// contender is one queue implementation, seen from the child.
type contender interface {
	// setup connects and cleans; keep selects retention for added jobs.
	setup(ctx context.Context, s *Spec) error
	add(ctx context.Context, p payload, delay time.Duration) error
	addBulk(ctx context.Context, ps []payload) error // errNA when unsupported
	startWorker(ctx context.Context, conc int, h handler) error
	// settle waits until the backend holds no waiting, delayed, retrying
	// or active job (so completions are durable), or ctx ends.
	settle(ctx context.Context) error
	close()
}

func newContender(name string) (contender, error) {
	switch name {
	case "jobq-redis", "jobq-sqlite":
		return &jobqC{name: name}, nil
	case "asynq":
		return &asynqC{}, nil
	case "river-pg", "river-sqlite":
		return &riverC{name: name}, nil
	}
	return nil, fmt.Errorf("unknown contender %q", name)
}

func childMain(specJSON string) {
	var s Spec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		fmt.Fprintln(os.Stderr, "bad spec:", err)
		os.Exit(2)
	}
	res := runChild(&s)
	b, _ := json.Marshal(res)
	fmt.Printf("DONE %s\n", b)
	// Wait for the parent to close stdin (it snapshots first).
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

func runChild(s *Spec) (res Result) {
	ctx := context.Background()
	c, err := newContender(s.Contender)
	if err != nil {
		fmt.Println("READY")
		return Result{Err: err.Error()}
	}
	fail := func(err error) Result {
		if errors.Is(err, errNA) {
			return Result{Note: "n/a"}
		}
		return Result{Err: err.Error()}
	}
	if err := c.setup(ctx, s); err != nil {
		fmt.Println("READY")
		waitGo()
		return fail(fmt.Errorf("setup: %w", err))
	}
	defer c.close()
	// Burn-down: fill before READY, so the phase measures only the workers.
	if s.Scenario == "burn" {
		if err := fill(ctx, c, s.N); err != nil {
			fmt.Println("READY")
			waitGo()
			return fail(fmt.Errorf("fill: %w", err))
		}
	}
	fmt.Println("READY")
	waitGo()
	if s.Profile != "" {
		if f, err := os.Create(s.Profile); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	pctx, cancel := context.WithTimeout(ctx, time.Duration(s.Timeout*float64(time.Second)))
	defer cancel()
	switch s.Scenario {
	case "add", "bulk":
		res, err = runAdd(pctx, c, s)
	case "burn":
		res, err = runBurn(pctx, c, s)
	case "steady":
		res, err = runSteady(pctx, c, s)
	case "delayed", "idle":
		res, err = runDelayed(pctx, c, s)
	case "retry":
		res, err = runRetry(pctx, c, s)
	default:
		err = fmt.Errorf("unknown scenario %q", s.Scenario)
	}
	if err != nil {
		r := fail(err)
		r.Jobs, r.Seconds, r.Lat = res.Jobs, res.Seconds, res.Lat
		return r
	}
	return res
}

func waitGo() {
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	_ = line
}

func fill(ctx context.Context, c contender, n int) error {
	const batch = 500
	ps := make([]payload, 0, batch)
	now := time.Now().UnixNano()
	for i := 0; i < n; i += batch {
		ps = ps[:0]
		for j := i; j < min(i+batch, n); j++ {
			ps = append(ps, payload{I: j, T: now})
		}
		err := c.addBulk(ctx, ps)
		if errors.Is(err, errNA) {
			for _, p := range ps {
				if err := c.add(ctx, p, 0); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// runAdd: Conc producers add N jobs, one by one or in batches of Batch.
func runAdd(ctx context.Context, c contender, s *Spec) (Result, error) {
	var next atomic.Int64
	var done atomic.Int64
	batch := 1
	if s.Scenario == "bulk" {
		batch = s.Batch
	}
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, s.Conc)
	for range s.Conc {
		wg.Go(func() {
			ps := make([]payload, 0, batch)
			for {
				i := int(next.Add(int64(batch))) - batch
				if i >= s.N || ctx.Err() != nil {
					return
				}
				ps = ps[:0]
				for j := i; j < min(i+batch, s.N); j++ {
					ps = append(ps, payload{I: j, T: time.Now().UnixNano()})
				}
				var err error
				if s.Scenario == "bulk" {
					err = c.addBulk(ctx, ps)
				} else {
					err = c.add(ctx, ps[0], 0)
				}
				if err != nil {
					errc <- err
					return
				}
				done.Add(int64(len(ps)))
			}
		})
	}
	wg.Wait()
	r := Result{Jobs: int(done.Load()), Seconds: time.Since(start).Seconds()}
	select {
	case err := <-errc:
		return r, err
	default:
	}
	return r, ctx.Err()
}

// counter counts handler calls and signals when target is reached.
type counter struct {
	n      atomic.Int64
	target int64
	once   sync.Once
	done   chan struct{}
}

func newCounter(target int) *counter {
	return &counter{target: int64(target), done: make(chan struct{})}
}
func (c *counter) inc() {
	if c.n.Add(1) >= atomic.LoadInt64(&c.target) {
		c.once.Do(func() { close(c.done) })
	}
}

func (c *counter) setTarget(n int) {
	atomic.StoreInt64(&c.target, int64(n))
	if c.n.Load() >= int64(n) {
		c.once.Do(func() { close(c.done) })
	}
}

func waitDone(ctx context.Context, c contender, cnt *counter) error {
	select {
	case <-cnt.done:
	case <-ctx.Done():
		return fmt.Errorf("timeout after %d of %d jobs", cnt.n.Load(), atomic.LoadInt64(&cnt.target))
	}
	return c.settle(ctx)
}

func runBurn(ctx context.Context, c contender, s *Spec) (Result, error) {
	cnt := newCounter(s.N)
	start := time.Now()
	err := c.startWorker(ctx, s.Conc, func(p payload, attempt int) error { cnt.inc(); return nil })
	if err == nil {
		err = waitDone(ctx, c, cnt)
	}
	return Result{Jobs: int(cnt.n.Load()), Seconds: time.Since(start).Seconds()}, err
}

// latencies collects durations in ns.
type latencies struct {
	mu sync.Mutex
	v  []int64
}

func (l *latencies) add(d int64) { l.mu.Lock(); l.v = append(l.v, d); l.mu.Unlock() }

func (l *latencies) pcts() map[string]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return percentiles(l.v)
}

func percentiles(v []int64) map[string]float64 {
	if len(v) == 0 {
		return nil
	}
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) float64 {
		i := int(q*float64(len(s)) + 0.5)
		i = min(max(i-1, 0), len(s)-1)
		return float64(s[i]) / 1e6
	}
	return map[string]float64{"p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": float64(s[len(s)-1]) / 1e6}
}

// runSteady: producers offer Rate jobs/s for Seconds while the worker runs;
// latency = handler start − the moment Add was called. Producers that fall
// behind stop at the end of the window: the result then shows fewer jobs
// offered than Rate×Seconds.
func runSteady(ctx context.Context, c contender, s *Spec) (Result, error) {
	lat := &latencies{v: make([]int64, 0, int(float64(s.Rate)*s.Seconds)+16)}
	total := int(float64(s.Rate) * s.Seconds)
	cnt := newCounter(math.MaxInt)
	err := c.startWorker(ctx, s.Conc, func(p payload, attempt int) error {
		lat.add(time.Now().UnixNano() - p.T)
		cnt.inc()
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	const producers = 16
	start := time.Now()
	end := start.Add(time.Duration(s.Seconds * float64(time.Second)))
	var wg sync.WaitGroup
	var offered atomic.Int64
	errc := make(chan error, producers)
	for k := range producers {
		wg.Go(func() {
			// producer k sends jobs k, k+producers, … each at its due time.
			per := time.Duration(float64(time.Second) / float64(s.Rate))
			for i := k; i < total; i += producers {
				due := start.Add(time.Duration(i) * per)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if ctx.Err() != nil || time.Now().After(end) {
					return
				}
				if err := c.add(ctx, payload{I: i, T: time.Now().UnixNano()}, 0); err != nil {
					errc <- err
					return
				}
				offered.Add(1)
			}
		})
	}
	wg.Wait()
	offerSecs := time.Since(start).Seconds()
	r := Result{Offered: int(offered.Load()), Seconds: offerSecs}
	select {
	case err = <-errc:
	default:
		cnt.setTarget(r.Offered)
		err = waitDone(ctx, c, cnt)
	}
	r.Jobs, r.Lat = int(cnt.n.Load()), lat.pcts()
	r.Seconds = time.Since(start).Seconds()
	if float64(r.Offered) < 0.99*float64(total) {
		r.Note = fmt.Sprintf("producers fell behind: offered %d of %d in %.0fs", r.Offered, total, s.Seconds)
	}
	return r, err
}

// runDelayed: N jobs with delays uniform in [DelayMin, DelayMax] ms;
// lateness = handler start − due time. The "idle" scenario runs it with
// Workers workers of concurrency 1 and few jobs, so the workers are idle
// between due times and the Redis script calls per job show whether every
// idle worker wakes for each due time.
func runDelayed(ctx context.Context, c contender, s *Spec) (Result, error) {
	lat := &latencies{}
	cnt := newCounter(s.N)
	err := c.startWorker(ctx, s.Conc, func(p payload, attempt int) error {
		lat.add(time.Now().UnixNano() - p.D)
		cnt.inc()
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range s.N {
		d := time.Duration(s.DelayMin+r.IntN(s.DelayMax-s.DelayMin+1)) * time.Millisecond
		now := time.Now()
		if err := c.add(ctx, payload{I: i, T: now.UnixNano(), D: now.Add(d).UnixNano()}, d); err != nil {
			return Result{}, err
		}
	}
	err = waitDone(ctx, c, cnt)
	return Result{Jobs: int(cnt.n.Load()), Seconds: time.Since(start).Seconds(), Lat: lat.pcts()}, err
}

// runRetry: N jobs, each failing Attempts-1 times with a fixed BackoffMS
// backoff; lateness = retry start − (failure + backoff).
func runRetry(ctx context.Context, c contender, s *Spec) (Result, error) {
	lat := &latencies{}
	cnt := newCounter(s.N)
	var mu sync.Mutex
	failedAt := make(map[int]int64, s.N)
	backoff := int64(s.BackoffMS) * 1e6
	err := c.startWorker(ctx, s.Conc, func(p payload, attempt int) error {
		now := time.Now().UnixNano()
		mu.Lock()
		if f, ok := failedAt[p.I]; ok && attempt > 1 {
			lat.add(now - (f + backoff))
		}
		if attempt < s.Attempts {
			failedAt[p.I] = time.Now().UnixNano()
			mu.Unlock()
			return errors.New("planned failure")
		}
		mu.Unlock()
		cnt.inc()
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	if err := fill(ctx, c, s.N); err != nil {
		return Result{}, err
	}
	err = waitDone(ctx, c, cnt)
	return Result{Jobs: int(cnt.n.Load()), Seconds: time.Since(start).Seconds(), Lat: lat.pcts()}, err
}
