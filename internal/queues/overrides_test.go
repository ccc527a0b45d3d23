package queues

import (
	"errors"
	"testing"
	"time"
)

func TestParseOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		conc, lim string
		ok        bool
	}{
		{"", "", true},
		{"media=4, analytics=20", "media=5/2s,maintenance=off", true},
		{"media=0", "", false},
		{"nope=3", "", false},
		{"media", "", false},
		{"", "media=10", false},
		{"", "media=10/0s", false},
	}
	for _, tc := range tests {
		o, err := ParseOverrides(tc.conc, tc.lim)
		if (err == nil) != tc.ok {
			t.Errorf("ParseOverrides(%q, %q) = %v", tc.conc, tc.lim, err)
		}
		if err != nil && !errors.Is(err, ErrBadOverride) {
			t.Errorf("error %v does not wrap ErrBadOverride", err)
		}
		if err == nil && tc.conc != "" {
			reg := NewRegistry()
			o.Apply(reg)
			if reg.Settings(QueueMedia).Concurrency != 4 || reg.Settings(QueueAnalytics).Concurrency != 20 {
				t.Errorf("apply: %+v", reg.Settings(QueueMedia))
			}
			if l := reg.Settings(QueueMedia).Limiter; l == nil || l.Max != 5 || l.Duration != 2*time.Second {
				t.Errorf("limiter %+v", l)
			}
			if reg.Settings(QueueMaintenance).Limiter != nil {
				t.Errorf("maintenance limiter not removed")
			}
		}
	}
}

func FuzzParseOverrides(f *testing.F) {
	f.Add("media=4,analytics=20", "media=10/1s")
	f.Add("=,", "media=off")
	f.Fuzz(func(t *testing.T, conc, lim string) {
		o, err := ParseOverrides(conc, lim)
		if err != nil {
			return
		}
		for q, n := range o.Concurrency {
			if n < 1 || q == "" {
				t.Fatalf("accepted concurrency %s=%d", q, n)
			}
		}
		for q, l := range o.Limiter {
			if l != nil && (l.Max < 1 || l.Duration <= 0) {
				t.Fatalf("accepted limiter %s=%+v", q, l)
			}
		}
	})
}
