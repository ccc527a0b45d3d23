package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend lets one suite test every Limiter. newEnv returns a fresh limiter
// (with a namespace of its own) and a function that lets time pass: a fake
// clock for Memory, a sleep for Redis. W is the unit window of the suite;
// slack is added to waits that must cross a window boundary and tolerated
// below an expected RetryAfter (0 with a fake clock: exact); res is the
// resolution of the backend's timestamps, tolerated above it.
type backend struct {
	newEnv func(t *testing.T) (Limiter, func(time.Duration))
	W      time.Duration
	slack  time.Duration
	res    time.Duration
}

// step is one Allow call of a contract case.
type step struct {
	after   time.Duration // let this much time pass first
	key     string        // "k" when empty
	allowed bool
	rule    string        // refusing rule, when !allowed
	retry   time.Duration // RetryAfter, when !allowed
}

// runContract checks the semantics every Limiter shares.
func runContract(t *testing.T, b backend) {
	W, s := b.W, b.slack
	cases := []struct {
		name  string
		rules []Rule
		steps []step
	}{
		{
			name:  "one per window",
			rules: []Rule{{"w", 1, W}},
			steps: []step{
				{allowed: true},
				{after: W / 4, rule: "w", retry: W * 3 / 4},
				{after: W*3/4 + s, allowed: true},
				{rule: "w", retry: W},
			},
		},
		{
			name:  "keys are independent",
			rules: []Rule{{"w", 1, W}},
			steps: []step{
				{allowed: true},
				{key: "k2", allowed: true},
				{key: "{k}", allowed: true},
				{rule: "w", retry: W},
			},
		},
		{
			name:  "oldest of the newest Limit events sets RetryAfter",
			rules: []Rule{{"w", 3, W}},
			steps: []step{
				{allowed: true},
				{after: W / 4, allowed: true},
				{after: W / 4, allowed: true},
				{after: W / 4, rule: "w", retry: W / 4},
				{after: W/4 + s, allowed: true},
				{rule: "w", retry: W/4 - s},
			},
		},
		{
			name:  "refused events are not counted",
			rules: []Rule{{"w", 2, W}},
			steps: []step{
				{allowed: true},
				{allowed: true},
				{after: W / 2, rule: "w", retry: W / 2},
				{rule: "w", retry: W / 2},
				{after: W/2 + s, allowed: true},
				{allowed: true},
				{rule: "w", retry: W},
			},
		},
		{
			name:  "long rule refuses after the short one allows again",
			rules: []Rule{{"short", 1, W}, {"long", 3, 6 * W}},
			steps: []step{
				{allowed: true},
				{after: W + s, allowed: true},
				{after: W + s, allowed: true},
				{after: W / 2, rule: "long", retry: 7*W/2 - 2*s},
				{after: W/2 + s, rule: "long", retry: 3*W - 3*s},
				{after: 3*W - 3*s + s, allowed: true},
			},
		},
		{
			name:  "the longest wait names the rule",
			rules: []Rule{{"a", 1, W}, {"b", 2, 3 * W}},
			steps: []step{
				{allowed: true},
				{after: W / 2, rule: "a", retry: W / 2},
				{after: W/2 + s, allowed: true},
				{after: W / 2, rule: "b", retry: 3*W/2 - s},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, advance := b.newEnv(t)
			for i, st := range tc.steps {
				if st.after > 0 {
					advance(st.after)
				}
				key := st.key
				if key == "" {
					key = "k"
				}
				d, err := l.Allow(context.Background(), key, tc.rules...)
				if err != nil {
					t.Fatalf("step %d: Allow: %v", i, err)
				}
				if d.Allowed != st.allowed {
					t.Fatalf("step %d: Allowed = %v (%+v), want %v", i, d.Allowed, d, st.allowed)
				}
				if st.allowed {
					if d.Rule != "" || d.RetryAfter != 0 {
						t.Fatalf("step %d: allowed with %+v", i, d)
					}
					continue
				}
				if d.Rule != st.rule {
					t.Errorf("step %d: Rule = %q, want %q", i, d.Rule, st.rule)
				}
				if d.RetryAfter <= 0 || d.RetryAfter > st.retry+b.res || d.RetryAfter < st.retry-s {
					t.Errorf("step %d: RetryAfter = %v, want %v (-%v, +%v)", i, d.RetryAfter, st.retry, s, b.res)
				}
			}
		})
	}

	t.Run("bad arguments", func(t *testing.T) {
		t.Parallel()
		l, _ := b.newEnv(t)
		ok := Rule{"ok", 1, W}
		bad := []struct {
			name  string
			key   string
			rules []Rule
			want  error
		}{
			{"empty key", "", []Rule{ok}, ErrEmptyKey},
			{"no rules", "k", nil, ErrBadRule},
			{"no name", "k", []Rule{{"", 1, W}}, ErrBadRule},
			{"zero limit", "k", []Rule{ok, {"z", 0, W}}, ErrBadRule},
			{"negative limit", "k", []Rule{{"n", -1, W}}, ErrBadRule},
			{"zero window", "k", []Rule{{"z", 1, 0}}, ErrBadRule},
			{"negative window", "k", []Rule{{"n", 1, -W}}, ErrBadRule},
			{"repeated name", "k", []Rule{ok, {"ok", 2, 2 * W}}, ErrBadRule},
		}
		for _, tc := range bad {
			if _, err := l.Allow(context.Background(), tc.key, tc.rules...); !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			}
		}
		// nothing was recorded by the bad calls
		if d, err := l.Allow(context.Background(), "k", ok); err != nil || !d.Allowed {
			t.Errorf("after bad calls: %+v, %v; want allowed", d, err)
		}
	})
}

// allowConcurrently calls Allow n times at once, spreading the calls over
// limiters, and returns how many were allowed.
func allowConcurrently(t *testing.T, limiters []Limiter, n int, key string, rules ...Rule) int {
	t.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			d, err := limiters[i%len(limiters)].Allow(context.Background(), key, rules...)
			if err != nil {
				t.Errorf("Allow: %v", err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}
