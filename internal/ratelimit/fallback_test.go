package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// stubLimiter answers every Allow with d and err.
type stubLimiter struct {
	d     Decision
	err   error
	calls int
}

func (s *stubLimiter) Allow(ctx context.Context, key string, rules ...Rule) (Decision, error) {
	s.calls++
	return s.d, s.err
}

func (s *stubLimiter) AllowAll(ctx context.Context, checks ...Check) (Decision, error) {
	s.calls++
	return s.d, s.err
}

func TestFallback(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	refused := Decision{Rule: "p", RetryAfter: time.Second}
	secondary := Decision{Allowed: true}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name       string
		ctx        context.Context
		primaryD   Decision
		primaryErr error
		want       Decision
		wantErr    error
		fellBack   bool
	}{
		{"primary allows", context.Background(), Decision{Allowed: true}, nil, Decision{Allowed: true}, nil, false},
		{"primary refuses", context.Background(), refused, nil, refused, nil, false},
		{"primary errors", context.Background(), Decision{}, down, secondary, nil, true},
		{"bad rule is not retried", context.Background(), Decision{}, ErrBadRule, Decision{}, ErrBadRule, false},
		{"empty key is not retried", context.Background(), Decision{}, ErrEmptyKey, Decision{}, ErrEmptyKey, false},
		{"done context is not retried", canceled, Decision{}, context.Canceled, Decision{}, context.Canceled, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &stubLimiter{d: tc.primaryD, err: tc.primaryErr}
			s := &stubLimiter{d: secondary}
			var reported []error
			l := Fallback(p, s, func(err error) { reported = append(reported, err) })
			d, err := l.Allow(tc.ctx, "k", Rule{"r", 1, time.Second})
			if d != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("got %+v, %v; want %+v, %v", d, err, tc.want, tc.wantErr)
			}
			if got := s.calls == 1; got != tc.fellBack {
				t.Errorf("secondary called %d times, fell back = %v", s.calls, tc.fellBack)
			}
			if tc.fellBack && (len(reported) != 1 || reported[0] != tc.primaryErr) {
				t.Errorf("onFallback got %v, want [%v]", reported, tc.primaryErr)
			}
			if !tc.fellBack && len(reported) != 0 {
				t.Errorf("onFallback got %v, want none", reported)
			}
		})
	}

	t.Run("nil onFallback", func(t *testing.T) {
		t.Parallel()
		l := Fallback(&stubLimiter{err: down}, &stubLimiter{d: secondary}, nil)
		if d, err := l.Allow(context.Background(), "k", Rule{"r", 1, time.Second}); err != nil || d != secondary {
			t.Fatalf("got %+v, %v", d, err)
		}
	})
}

// TestFallbackRedisDown falls back from a Redis limiter whose server is
// unreachable (a closed port) to a Memory limiter that then enforces the
// rules.
func TestFallbackRedisDown(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	var reported []error
	l := Fallback(NewRedis(c, "x"), NewMemory(MemoryConfig{}), func(err error) {
		reported = append(reported, err)
	})
	rule := Rule{"r", 2, time.Minute}
	for i, want := range []bool{true, true, false} {
		d, err := l.Allow(context.Background(), "k", rule)
		if err != nil || d.Allowed != want {
			t.Fatalf("call %d: %+v, %v; want Allowed = %v", i, d, err, want)
		}
	}
	if len(reported) != 3 {
		t.Fatalf("onFallback called %d times, want 3", len(reported))
	}
	for _, err := range reported {
		if err == nil || errors.Is(err, ErrBadRule) {
			t.Errorf("onFallback got %v, want the connection error", err)
		}
	}
}
