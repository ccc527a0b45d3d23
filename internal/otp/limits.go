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

// Limiter checks one event against several keys' rules and records it
// under all of them, or none;
// ratelimit.Memory, ratelimit.Redis and ratelimit.Fallback implement it.
type Limiter interface {
	AllowAll(ctx context.Context, checks ...ratelimit.Check) (ratelimit.Decision, error)
}

// Limits are the OTP rate limits. Each list holds sliding-window rules.
type Limits struct {
	// Phone limits code requests per phone number (default 1/1m, 5/1h,
	// 10/24h).
	Phone []ratelimit.Rule
	// IP limits code requests per client address (default 20/1h).
	IP []ratelimit.Rule
	// Home is the global budget of code requests to Iranian numbers, all
	// together (default 20000/1h): a ceiling against abuse that real
	// logins never reach.
	Home []ratelimit.Rule
	// Country is the global budget of code requests per other allowed
	// country calling code (default 200/1h), against SMS pumping, which
	// targets foreign and premium numbers.
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
	DefaultHomeRules     = "20000/1h"
	DefaultCountryRules  = "200/1h"
	DefaultVerifyIPRules = "30/1m"
)

// DefaultLimits are the limits of an unconfigured service.
func DefaultLimits() Limits {
	return Limits{
		Phone:    mustRules("phone", DefaultPhoneRules),
		IP:       mustRules("ip", DefaultIPRules),
		Home:     mustRules("home", DefaultHomeRules),
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

// allow records one event under every key whose rules are not empty,
// only if all allow it (ratelimit.Limiter.AllowAll), so a request refused
// by one limit uses up no other. A limiter failure is logged and counted,
// and lets the request through.
func (s *Service) allow(ctx context.Context, checks ...ratelimit.Check) error {
	if s.limiter == nil {
		return nil
	}
	live := checks[:0:0]
	for _, c := range checks {
		if c.Key != "" && len(c.Rules) > 0 {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return nil
	}
	d, err := s.limiter.AllowAll(ctx, live...)
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
