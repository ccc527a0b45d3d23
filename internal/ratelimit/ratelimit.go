// Package ratelimit limits how often an event may happen per key, e.g. OTP
// logins per phone number, per client IP, or per country calling code (a
// global budget against SMS pumping).
//
// Each [Rule] is a sliding window log: an event is allowed when fewer than
// Limit events were recorded under the same key and rule name during the
// last Window. [Limiter.Allow] checks one event against several rules at
// once and records it, in every rule, only when every rule allows it; a
// refused event is not counted.
//
// Two implementations share these semantics: [Memory] keeps the logs in
// process and [Redis] keeps them in Redis so that several API processes
// share one budget. [Fallback] uses one and, when it errors, the other.
//
// Atomicity is per key: limits on several keys (client IP, phone number,
// country calling code) take one Allow call each, and an event recorded by
// an earlier call stays counted when a later call refuses. Check the keys a
// caller cannot vary freely (IP) before those it can (phone number), and
// the global budget (country) last, so refused floods spend little of it.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrBadRule reports an unusable rule: an empty or repeated Name, a Limit
// below 1 or a Window that is not positive, or no rule at all.
var ErrBadRule = errors.New("ratelimit: bad rule")

// ErrEmptyKey reports an Allow call with an empty key.
var ErrEmptyKey = errors.New("ratelimit: empty key")

// Rule allows at most Limit events per Window, over a sliding window.
//
// Name identifies the rule's counter: calls that pass the same key and rule
// Name share one log, so a Name should always come with the same Limit and
// Window (e.g. "phone-minute", "phone-hour").
type Rule struct {
	Name   string
	Limit  int
	Window time.Duration
}

// Decision is the answer of [Limiter.Allow].
//
// When Allowed is false, Rule names the refusing rule with the longest wait
// and RetryAfter (always > 0) is how long until one more event would be
// allowed by every rule, assuming no other event is recorded meanwhile.
// Rounding RetryAfter, e.g. up to whole seconds for a Retry-After header,
// is the caller's job. When Allowed is true, Rule is empty and RetryAfter is
// zero.
type Decision struct {
	Allowed    bool
	Rule       string
	RetryAfter time.Duration
}

// Limiter checks one event under key against every rule, atomically: the
// event is recorded (counted by every rule) only when every rule allows it.
//
// Keys may hold any bytes. An empty key or a bad rule is an error wrapping
// [ErrEmptyKey] or [ErrBadRule]; implementations may also return errors of
// their own (e.g. Redis being unreachable), in which case nothing is known
// about whether the event was recorded.
type Limiter interface {
	Allow(ctx context.Context, key string, rules ...Rule) (Decision, error)
	// AllowAll checks one event against several keys, each with its own
	// rules, and records it under every key only when every rule of
	// every key allows it: a request refused by one limit (the phone
	// number's) does not use up another's budget (the client address's).
	// When several refuse, Decision names the longest wait.
	AllowAll(ctx context.Context, checks ...Check) (Decision, error)
}

// Check is one key and the rules it is held to, for AllowAll.
type Check struct {
	Key   string
	Rules []Rule
}

// validate checks the arguments of an Allow call.
func validate(key string, rules []Rule) error {
	if key == "" {
		return ErrEmptyKey
	}
	if len(rules) == 0 {
		return fmt.Errorf("%w: no rules", ErrBadRule)
	}
	for i, r := range rules {
		switch {
		case r.Name == "":
			return fmt.Errorf("%w: rule %d has no name", ErrBadRule, i)
		case r.Limit < 1:
			return fmt.Errorf("%w: rule %q: limit %d < 1", ErrBadRule, r.Name, r.Limit)
		case r.Window <= 0:
			return fmt.Errorf("%w: rule %q: window %v <= 0", ErrBadRule, r.Name, r.Window)
		}
		for _, prev := range rules[:i] {
			if prev.Name == r.Name {
				return fmt.Errorf("%w: rule %q appears twice", ErrBadRule, r.Name)
			}
		}
	}
	return nil
}

// isCallerError reports whether err is about the arguments of the call, so
// that another Limiter would refuse them too.
// validateAll validates checks: at least one, each valid, no key twice.
func validateAll(checks []Check) error {
	if len(checks) == 0 {
		return fmt.Errorf("%w: no checks", ErrBadRule)
	}
	for i, c := range checks {
		if err := validate(c.Key, c.Rules); err != nil {
			return err
		}
		for _, prev := range checks[:i] {
			if prev.Key == c.Key {
				return fmt.Errorf("%w: key %q checked twice", ErrBadRule, c.Key)
			}
		}
	}
	return nil
}

func isCallerError(err error) bool {
	return errors.Is(err, ErrBadRule) || errors.Is(err, ErrEmptyKey)
}
