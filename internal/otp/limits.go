package otp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/ratelimit"
)

// Limiter checks and records one event under a key against rules;
// ratelimit.Memory, ratelimit.Redis and ratelimit.Fallback implement it.
type Limiter interface {
	Allow(ctx context.Context, key string, rules ...ratelimit.Rule) (ratelimit.Decision, error)
}

// Limits are the OTP rate limits. Each list holds sliding-window rules.
type Limits struct {
	// Phone limits code requests per phone number (default 1/1m, 5/1h,
	// 10/24h).
	Phone []ratelimit.Rule
	// IP limits code requests per client address (default 20/1h).
	IP []ratelimit.Rule
	// Country is a global budget of code requests per country calling
	// code, against SMS pumping (default 1000/1h).
	Country []ratelimit.Rule
	// VerifyIP limits verify attempts per client address, across
	// challenges (default 30/1m); each challenge also allows at most
	// MaxAttempts.
	VerifyIP []ratelimit.Rule
}

// The default rules, in ParseRules's syntax.
const (
	DefaultPhoneRules    = "1/1m,5/1h,10/24h"
	DefaultIPRules       = "20/1h"
	DefaultCountryRules  = "1000/1h"
	DefaultVerifyIPRules = "30/1m"
)

// DefaultLimits are the limits of an unconfigured service.
func DefaultLimits() Limits {
	return Limits{
		Phone:    mustRules("phone", DefaultPhoneRules),
		IP:       mustRules("ip", DefaultIPRules),
		Country:  mustRules("country", DefaultCountryRules),
		VerifyIP: mustRules("verify-ip", DefaultVerifyIPRules),
	}
}

// ErrBadRules reports a malformed rate limit setting.
var ErrBadRules = errors.New("bad rate limit")

// ParseRules reads "N/DURATION[,N/DURATION…]" (e.g. "1/1m,5/1h,10/24h")
// into rules named name-1, name-2, …; "off" (or empty) means no rule (an
// empty, non-nil list, so it is not mistaken for "use the defaults").
func ParseRules(name, s string) ([]ratelimit.Rule, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return []ratelimit.Rule{}, nil
	}
	var out []ratelimit.Rule
	for i, part := range strings.Split(s, ",") {
		n, d, ok := strings.Cut(strings.TrimSpace(part), "/")
		limit, err := strconv.Atoi(strings.TrimSpace(n))
		if !ok || err != nil || limit < 1 || limit > 1_000_000 {
			return nil, fmt.Errorf("%w %q: want N/DURATION such as 5/1h", ErrBadRules, part)
		}
		win, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || win < time.Second || win > 31*24*time.Hour {
			return nil, fmt.Errorf("%w %q: the window must be a duration from 1s to 744h", ErrBadRules, part)
		}
		out = append(out, ratelimit.Rule{Name: fmt.Sprintf("%s-%d", name, i+1), Limit: limit, Window: win})
	}
	return out, nil
}

func mustRules(name, s string) []ratelimit.Rule {
	r, err := ParseRules(name, s)
	if err != nil {
		panic(err)
	}
	return r
}

// LimitedError is a refusal by a rate limit: the API answers 429 with
// Retry-After.
type LimitedError struct {
	// Rule names the rule that refused ("phone-1", "ip-1", …).
	Rule string
	// RetryAfter is when one more request would be allowed.
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("rate limited by %s; retry after %s", e.Rule, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *LimitedError) Is(target error) bool { return target == ErrRateLimited }

// ErrRateLimited matches every LimitedError.
var ErrRateLimited = errors.New("rate limited")

// allow checks key against rules; a limiter failure is logged by the
// caller's limiter (Fallback) and lets the request through.
func (s *Service) allow(ctx context.Context, key string, rules []ratelimit.Rule) error {
	if len(rules) == 0 || s.limiter == nil {
		return nil
	}
	d, err := s.limiter.Allow(ctx, key, rules...)
	if err != nil {
		s.log.WarnContext(ctx, "otp: rate limiter unavailable; request allowed", "err", err)
		s.m.limiterErrors.Inc()
		return nil
	}
	if !d.Allowed {
		s.m.limited.WithLabelValues(ruleKind(d.Rule)).Inc()
		return &LimitedError{Rule: d.Rule, RetryAfter: d.RetryAfter}
	}
	return nil
}

// ruleKind is a rule name without its index ("phone-2" → "phone"), for a
// metric label of bounded cardinality.
func ruleKind(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}
