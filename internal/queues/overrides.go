package queues

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/jobq"
)

// ErrBadOverride reports a malformed queue override setting.
var ErrBadOverride = errors.New("bad queue override")

// Overrides change queue settings from configuration: per-queue
// concurrency and rate limiter.
type Overrides struct {
	Concurrency map[string]int
	// Limiter maps a queue to its limiter; nil removes the limiter.
	Limiter map[string]*jobq.Limiter
}

// ParseOverrides reads concurrency as "media=4,analytics=20" and limiter
// as "media=10/1s,analytics=off". Queues must be Atlas queues.
func ParseOverrides(concurrency, limiter string) (Overrides, error) {
	o := Overrides{Concurrency: map[string]int{}, Limiter: map[string]*jobq.Limiter{}}
	err := eachPair(concurrency, func(q, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10_000 {
			return fmt.Errorf("%w: concurrency of %s: %q is not an integer in 1..10000", ErrBadOverride, q, v)
		}
		o.Concurrency[q] = n
		return nil
	})
	if err != nil {
		return Overrides{}, err
	}
	err = eachPair(limiter, func(q, v string) error {
		if v == "off" || v == "none" {
			o.Limiter[q] = nil
			return nil
		}
		maxS, durS, ok := strings.Cut(v, "/")
		n, err := strconv.Atoi(maxS)
		d, derr := time.ParseDuration(durS)
		if !ok || err != nil || derr != nil || n < 1 || d < time.Millisecond {
			return fmt.Errorf("%w: limiter of %s: %q is not MAX/DURATION (10/1s) or off", ErrBadOverride, q, v)
		}
		o.Limiter[q] = &jobq.Limiter{Max: n, Duration: d}
		return nil
	})
	if err != nil {
		return Overrides{}, err
	}
	return o, nil
}

// eachPair calls fn for each "queue=value" item of a comma-separated list.
func eachPair(s string, fn func(queue, value string) error) error {
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		q, v, ok := strings.Cut(item, "=")
		q, v = strings.TrimSpace(q), strings.TrimSpace(v)
		if !ok || q == "" || v == "" {
			return fmt.Errorf("%w: %.64q is not queue=value", ErrBadOverride, item)
		}
		if !slices.Contains(Queues, q) {
			return fmt.Errorf("%w: unknown queue %.32q (known: %s)", ErrBadOverride, q, strings.Join(Queues, ", "))
		}
		if err := fn(q, v); err != nil {
			return err
		}
	}
	return nil
}

// Apply writes the overrides into reg's queue settings. Apply before
// NewProducer and NewWorkers.
func (o Overrides) Apply(reg *Registry) {
	for q, n := range o.Concurrency {
		s := reg.Settings(q)
		s.Concurrency = n
		reg.SetSettings(q, s)
	}
	for q, l := range o.Limiter {
		s := reg.Settings(q)
		s.Limiter = l
		reg.SetSettings(q, s)
	}
}
