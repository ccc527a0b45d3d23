package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/jobq"
)

// mixRow is one queue's share of the day and its final failure rate.
type mixRow struct {
	Queue    string
	Share    float64
	FailRate float64
}

// dayMix is the share of the day's jobs per queue, and the share of each
// queue's jobs that fail for good (after all their attempts). See
// docs/BENCHMARKS.md, "Redis memory", for why.
var dayMix = []mixRow{
	{"analytics", 0.55, 0.001},
	{"notifications", 0.20, 0.02},
	{"media", 0.15, 0.005},
	{"maintenance", 0.10, 0.002},
}

// hourWeight is the day's shape: quiet nights, a busy day and an evening
// peak of twice the daytime rate (the peak hour carries ~8.5% of the day).
func hourWeight(h int) float64 {
	switch {
	case h < 8:
		return 0.3
	case h >= 18 && h < 23:
		return 2
	default:
		return 1
	}
}

// clock maps real time onto the compressed day.
type clock struct {
	realStart, fakeStart time.Time
	factor               float64
}

func (c clock) now() time.Time {
	return c.fakeStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.factor))
}

func (c clock) realAt(fake time.Duration) time.Time {
	return c.realStart.Add(time.Duration(float64(fake) / c.factor))
}

type arrival struct {
	at    time.Duration // since the day's start
	shape int
	i     int
	fail  bool
}

// sample is used_memory at a point of the day.
type sample struct {
	At   time.Duration // fake time since the day's start
	Used int64
}

type dayResult struct {
	Jobs        int
	PerQueue    map[string]int
	FailedFinal map[string]int64
	Completed   map[string]int64 // still kept at the end (the last hour)
	Peak        sample
	Baseline    int64
	Samples     []sample
	End         int64 // used_memory at the end
	Keys        keyBytes
	EventsLen   map[string]int64
	Real        time.Duration
	MaxBacklog  int64 // most jobs waiting, prioritized or active at one sample
	Finished    int64 // jobs completed or failed for good (dedup hits never ran)
}

func arrivals(cfg config) []arrival {
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 2))
	var total float64
	for h := range 24 {
		total += hourWeight(h)
	}
	var out []arrival
	for si, s := range shapes {
		m := dayMix[slices.IndexFunc(dayMix, func(x mixRow) bool { return x.Queue == s.queue })]
		n := int(float64(cfg.Jobs)*m.Share + 0.5)
		for i := range n {
			// Pick the hour by weight, then a uniform moment in it.
			x := r.Float64() * total
			h := 0
			for ; h < 23 && x >= hourWeight(h); h++ {
				x -= hourWeight(h)
			}
			at := time.Duration(h)*time.Hour + time.Duration(r.Int64N(int64(time.Hour)))
			out = append(out, arrival{at: at, shape: si, i: i, fail: r.Float64() < m.FailRate})
		}
	}
	slices.SortFunc(out, func(a, b arrival) int { return int(a.at - b.at) })
	return out
}

func runDay(ctx context.Context, c *redis.Client, _ string, cfg config) (*dayResult, error) {
	drv, err := driver(c, "bull")
	if err != nil {
		return nil, err
	}
	defer drv.Close()
	arr := arrivals(cfg)
	res := &dayResult{Jobs: len(arr), PerQueue: map[string]int{}, FailedFinal: map[string]int64{},
		Completed: map[string]int64{}, EventsLen: map[string]int64{}}
	for _, a := range arr {
		res.PerQueue[shapes[a.shape].queue]++
	}
	if res.Baseline, err = usedMemory(ctx, c); err != nil {
		return nil, err
	}
	clk := clock{realStart: time.Now(), fakeStart: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		factor: float64(24*time.Hour) / float64(cfg.Day)}
	var finished atomic.Int64
	var workers []*jobq.Worker
	qs := make([]*jobq.Queue, len(shapes))
	for si, s := range shapes {
		qs[si] = jobq.NewQueue(s.queue, drv, &jobq.QueueConfig{Clock: clk.now})
		d := defaults(s.queue)
		w, err := jobq.NewWorker(s.queue, drv, s.handler(), &jobq.WorkerConfig{
			// Handlers take no time on the compressed clock, so the real
			// per-queue concurrency would only measure this machine;
			// 20 keeps backlogs near zero as sized workers would.
			Concurrency: 20, Clock: clk.now, MetricsMaxDataPoints: 60 * 24 * 7,
			RemoveOnComplete: d.RemoveOnComplete, RemoveOnFail: d.RemoveOnFail,
			OnCompleted: func(*jobq.Job, []byte) { finished.Add(1) },
			OnFailed: func(j *jobq.Job, _ error) {
				if j.AttemptsMade+1 >= j.Opts.Attempts {
					finished.Add(1)
				}
			},
		})
		if err != nil {
			return nil, err
		}
		if err := w.Start(ctx); err != nil {
			return nil, err
		}
		workers = append(workers, w)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, w := range workers {
			_ = w.Close(cctx)
		}
	}()

	// Sample used_memory every 100 ms of real time.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			u, err := usedMemory(sctx, c)
			if err != nil {
				continue
			}
			s := sample{At: clk.now().Sub(clk.fakeStart), Used: u}
			var backlog int64
			for _, q := range qs {
				cs, err := q.GetJobCounts(sctx, jobq.StateWaiting, jobq.StatePrioritized, jobq.StateActive)
				if err == nil {
					backlog += cs[jobq.StateWaiting] + cs[jobq.StatePrioritized] + cs[jobq.StateActive]
				}
			}
			mu.Lock()
			res.MaxBacklog = max(res.MaxBacklog, backlog)
			res.Samples = append(res.Samples, s)
			if u > res.Peak.Used {
				res.Peak = s
			}
			mu.Unlock()
		}
	})

	// Produce: every job at its arrival time, in per-queue batches.
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 3))
	for k := 0; k < len(arr); {
		if wait := time.Until(clk.realAt(arr[k].at)); wait > 0 {
			time.Sleep(wait)
		}
		due := clk.now().Sub(clk.fakeStart)
		batches := make([][]jobq.BulkJob, len(shapes))
		for ; k < len(arr) && arr[k].at <= due; k++ {
			a := arr[k]
			fail := a.fail
			batches[a.shape] = append(batches[a.shape], shapes[a.shape].bulk(r, a.i, 1, func(int) bool { return fail }, false)...)
		}
		for si, b := range batches {
			if len(b) > 0 {
				if _, err := qs[si].AddBulk(ctx, b); err != nil {
					stop()
					wg.Wait()
					return nil, err
				}
			}
		}
	}
	// Wait for every job to finish (dedup hits never become jobs).
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		pending := int64(0)
		for _, q := range qs {
			cs, err := q.GetJobCounts(ctx, jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed, jobq.StateActive)
			if err != nil {
				return nil, err
			}
			for _, n := range cs {
				pending += n
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d jobs still pending 2 minutes after the day", pending)
		}
	}
	stop()
	wg.Wait()
	res.Real = time.Since(clk.realStart)
	if res.End, err = usedMemory(ctx, c); err != nil {
		return nil, err
	}
	for _, q := range qs {
		cs, err := q.GetJobCounts(ctx, jobq.StateCompleted, jobq.StateFailed)
		if err != nil {
			return nil, err
		}
		res.Completed[q.Name()], res.FailedFinal[q.Name()] = cs[jobq.StateCompleted], cs[jobq.StateFailed]
		if res.EventsLen[q.Name()], err = c.XLen(ctx, "bull:"+q.Name()+":events").Result(); err != nil {
			return nil, err
		}
	}
	if res.Keys, err = sumKeys(ctx, c, "bull"); err != nil {
		return nil, err
	}
	res.Finished = finished.Load()
	return res, nil
}
