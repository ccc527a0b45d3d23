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

// Recorder counts shadow matches and mismatches, exports them as
// atlas_shadow_results_total{module,result} and keeps the most recent
// mismatches for the dashboard. It is safe for concurrent use.
type Recorder struct {
	log     *slog.Logger
	results *prometheus.CounterVec
	keep    int

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
	}
	return r, nil
}

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
	if c.Match {
		r.log.DebugContext(ctx, "shadow result matches", append([]any{"module", c.Module, "subject", c.Subject}, c.IDs...)...)
	} else {
		r.log.WarnContext(ctx, "shadow result mismatch", append([]any{"module", c.Module, "subject", c.Subject,
			"live", fmt.Sprintf("%+v", c.Live), "shadow", fmt.Sprintf("%+v", c.Shadow)}, c.IDs...)...)
	}
	return c.Match
}

// Counts returns the counts of every module that recorded a result,
// sorted by module (the read API for the dashboard).
func (r *Recorder) Counts() []Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Counts, 0, len(r.counts))
	for _, c := range r.counts {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Counts) int { return strings.Compare(string(a.Module), string(b.Module)) })
	return out
}

// RecentMismatches returns the kept mismatches, newest last.
func (r *Recorder) RecentMismatches() []Comparison {
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
