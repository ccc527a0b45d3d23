package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Comparison is one shadow result: the side result a worker computed and
// the live value the synchronous path wrote, for one subject.
type Comparison struct {
	Module Module
	// Subject identifies what was compared, e.g. "salon 42".
	Subject string
	// IDs are extra identifiers for the log (job id, event id, …).
	IDs    []any
	Live   any
	Shadow any
	Match  bool
	At     time.Time
}

// Counts are one module's shadow results so far.
type Counts struct {
	Module   Module `json:"module"`
	Match    int64  `json:"match"`
	Mismatch int64  `json:"mismatch"`
}

// Results keeps shadow results where every process sees them (the
// database; see internal/app), so the dashboard on any node shows the
// comparisons every worker made.
type Results interface {
	// Add counts c and keeps it when it is a mismatch, bounded to the
	// newest keep mismatches.
	Add(ctx context.Context, c Comparison, keep int) error
	// Counts returns every module's counts, sorted by module.
	Counts(ctx context.Context) ([]Counts, error)
	// RecentMismatches returns the newest n mismatches, newest last.
	RecentMismatches(ctx context.Context, n int) ([]Comparison, error)
}

// resultsTimeout bounds each read or write of Results.
const resultsTimeout = 2 * time.Second

// Recorder counts shadow matches and mismatches, exports them as
// atlas_shadow_results_total{module,result} (this process's
// comparisons) and keeps the most recent mismatches for the dashboard:
// in Results when set (every process's), and in this process's memory.
// It is safe for concurrent use.
type Recorder struct {
	log     *slog.Logger
	results *prometheus.CounterVec
	keep    int
	shared  Results

	mu     sync.Mutex
	counts map[Module]*Counts
	recent []Comparison
}

// NewRecorder returns a recorder that logs mismatches to log and registers
// its counter with reg (nil: not exported). It keeps the last keep
// mismatches (default 100 when keep <= 0).
func NewRecorder(log *slog.Logger, reg prometheus.Registerer, keep int) (*Recorder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if keep <= 0 {
		keep = 100
	}
	r := &Recorder{log: log, keep: keep, counts: map[Module]*Counts{},
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atlas_shadow_results_total",
			Help: "Shadow-mode comparisons of a worker's side result with the synchronous result, by module and result (match, mismatch).",
		}, []string{"module", "result"})}
	if reg != nil {
		if err := reg.Register(r.results); err != nil {
			return nil, fmt.Errorf("register shadow metrics: %w", err)
		}
		if err := reg.Register(sharedCollector{r: r, desc: prometheus.NewDesc("atlas_shadow_results_recorded",
			"Shadow-mode comparisons of every node, by module and result (match, mismatch), read from the shared results "+
				"at scrape time; absent without shared results.", []string{"module", "result"}, nil)}); err != nil {
			return nil, fmt.Errorf("register shadow metrics: %w", err)
		}
	}
	return r, nil
}

// sharedCollector exports the shared counts as gauges.
type sharedCollector struct {
	r    *Recorder
	desc *prometheus.Desc
}

func (c sharedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c sharedCollector) Collect(ch chan<- prometheus.Metric) {
	if c.r.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), resultsTimeout)
	defer cancel()
	counts, err := c.r.shared.Counts(ctx)
	if err != nil {
		c.r.log.Warn("shadow counts for /metrics", "err", err)
		return
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n.Match), string(n.Module), "match")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n.Mismatch), string(n.Module), "mismatch")
	}
}

// SetResults makes the recorder store every result in res too, and read
// Counts and RecentMismatches from it. Call it before the first Record.
func (r *Recorder) SetResults(res Results) { r.shared = res }

// Record counts c (and logs it when it is a mismatch) and returns c.Match.
func (r *Recorder) Record(ctx context.Context, c Comparison) bool {
	if c.At.IsZero() {
		c.At = time.Now()
	}
	result := "match"
	if !c.Match {
		result = "mismatch"
	}
	r.results.WithLabelValues(string(c.Module), result).Inc()
	r.mu.Lock()
	n := r.counts[c.Module]
	if n == nil {
		n = &Counts{Module: c.Module}
		r.counts[c.Module] = n
	}
	if c.Match {
		n.Match++
	} else {
		n.Mismatch++
		r.recent = append(r.recent, c)
		if len(r.recent) > r.keep {
			r.recent = slices.Delete(r.recent, 0, len(r.recent)-r.keep)
		}
	}
	r.mu.Unlock()
	if r.shared != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resultsTimeout)
		if err := r.shared.Add(sctx, c, r.keep); err != nil {
			r.log.WarnContext(ctx, "shadow result kept in this process only", "module", c.Module, "err", err)
		}
		cancel()
	}
	if c.Match {
		r.log.DebugContext(ctx, "shadow result matches", append([]any{"module", c.Module, "subject", c.Subject}, c.IDs...)...)
	} else {
		r.log.WarnContext(ctx, "shadow result mismatch", append([]any{"module", c.Module, "subject", c.Subject,
			"live", fmt.Sprintf("%+v", c.Live), "shadow", fmt.Sprintf("%+v", c.Shadow)}, c.IDs...)...)
	}
	return c.Match
}

// Counts returns the counts of every module that recorded a result,
// sorted by module (the read API for the dashboard): from Results when
// set, else (or when Results fails) this process's.
func (r *Recorder) Counts() []Counts {
	if r.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), resultsTimeout)
		defer cancel()
		c, err := r.shared.Counts(ctx)
		if err == nil {
			return c
		}
		r.log.Warn("shadow counts: showing this process's only", "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Counts, 0, len(r.counts))
	for _, c := range r.counts {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Counts) int { return strings.Compare(string(a.Module), string(b.Module)) })
	return out
}

// RecentMismatches returns the kept mismatches, newest last: from
// Results when set, else (or when Results fails) this process's.
func (r *Recorder) RecentMismatches() []Comparison {
	if r.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), resultsTimeout)
		defer cancel()
		m, err := r.shared.RecentMismatches(ctx, r.keep)
		if err == nil {
			return m
		}
		r.log.Warn("shadow mismatches: showing this process's only", "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recent)
}

// Comparer runs and records shadow comparisons; *Recorder implements it.
// Modules take a Comparer, so a test can wrap the recorder (see package
// rollouttest) instead of each module carrying a fault hook.
type Comparer interface {
	Compare(ctx context.Context, module Module, subject string, ids []any, measure Measure) (bool, error)
	Record(ctx context.Context, c Comparison) bool
}

// Measure computes a shadow comparison: the live value, the side result,
// and whether they match.
type Measure func(ctx context.Context) (live, shadow any, match bool, err error)

// settleTries and settlePause: a mismatch is measured again this many
// times, this far apart, before it counts, because the synchronous path
// may still be committing a newer result than the one the side result saw.
const (
	settleTries = 3
	settlePause = 200 * time.Millisecond
)

// Compare measures until the results match or the tries run out, then
// records the last measurement under module, subject and ids.
func (r *Recorder) Compare(ctx context.Context, module Module, subject string, ids []any, measure Measure) (bool, error) {
	var live, side any
	var match bool
	for try := range settleTries {
		var err error
		live, side, match, err = measure(ctx)
		if err != nil {
			return false, err
		}
		if match || try == settleTries-1 {
			break
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(settlePause):
		}
	}
	return r.Record(ctx, Comparison{Module: module, Subject: subject, IDs: ids, Live: live, Shadow: side, Match: match}), nil
}
