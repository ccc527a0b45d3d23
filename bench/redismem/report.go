package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

type report struct {
	cfg     config
	started time.Time
	version map[string]map[string]string
	states  []stateRow
	day     *dayResult
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// failedBytes is the bytes per failed job of queue from part 1.
func (r *report) failedBytes(queue string) float64 {
	for _, s := range r.states {
		if s.Queue == queue && s.State == "failed" {
			return s.PerJob()
		}
	}
	return 0
}

// SteadyPeak is the day's peak plus six more days of failed jobs (failed
// jobs are kept 7 days; the day only accumulated one).
func (r *report) SteadyPeak() (peak, extra int64) {
	d := r.day
	var add float64
	for q, n := range d.FailedFinal {
		add += 6 * float64(n) * r.failedBytes(q)
	}
	return d.Peak.Used + int64(add), int64(add)
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "# Redis memory (bench/redismem), %s\n\n", r.started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "redis %s, %s/%s, %d CPUs; day of %d jobs compressed into %v; %d jobs per state\n\n",
		r.version["Server"]["redis_version"], runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), r.cfg.Jobs, r.cfg.Day, r.cfg.StateJobs)
	fmt.Fprintln(w, "## Bytes per job by queue and state")
	fmt.Fprintln(w, "")
	fmt.Fprintln(w, "| Queue | State | Jobs | Bytes/job (MEMORY USAGE, events apart) | used_memory Δ/job | Events | Bytes/event |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, s := range r.states {
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.0f | %d | %.0f |\n", s.Queue, s.State, s.N, s.PerJob(),
			float64(s.UsedDelta)/float64(s.N), s.Keys.EventsLen, s.PerEvent())
	}
	d := r.day
	if d == nil {
		return
	}
	fmt.Fprintf(w, "\n## The day: %d jobs (real %v)\n\n", d.Jobs, d.Real.Round(time.Second))
	queues := make([]string, 0, len(d.PerQueue))
	for q := range d.PerQueue {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	fmt.Fprintln(w, "| Queue | Jobs added | Failed (kept 7 d) | Completed kept at the end (last hour) | Events stream length |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, q := range queues {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d |\n", q, d.PerQueue[q], d.FailedFinal[q], d.Completed[q], d.EventsLen[q])
	}
	fmt.Fprintf(w, "\njobs finished (completed, or failed after the last attempt): %d; largest backlog (waiting + prioritized + active) at a sample: %d\n\n", d.Finished, d.MaxBacklog)
	fmt.Fprintf(w, "- used_memory before the day: %s\n", mib(d.Baseline))
	fmt.Fprintf(w, "- peak used_memory: %s at %v of the day\n", mib(d.Peak.Used), d.Peak.At.Round(time.Minute))
	fmt.Fprintf(w, "- used_memory at the end: %s\n", mib(d.End))
	fmt.Fprintf(w, "- at the end, MEMORY USAGE sums: events streams %s (%d entries), metrics %s, jobs and indexes %s\n",
		mib(d.Keys.Events), d.Keys.EventsLen, mib(d.Keys.Metrics), mib(d.Keys.Jobs))
	steady, extra := r.SteadyPeak()
	fmt.Fprintf(w, "- steady state (six more days of failed jobs, %s, at part 1's bytes per failed job): peak ≈ %s\n", mib(extra), mib(steady))
	fmt.Fprintln(w, "\nused_memory through the day (every 3 h of the day):")
	next := time.Duration(0)
	for _, s := range d.Samples {
		if s.At >= next {
			fmt.Fprintf(w, "  %5v  %s\n", s.At.Round(time.Minute), mib(s.Used))
			next += 3 * time.Hour
		}
	}
}
