package ratelimit

import "context"

// Fallback returns a Limiter that asks primary and, when primary errors
// (e.g. Redis is down), secondary. onFallback, when not nil, is called with
// primary's error each time, e.g. to count fallbacks or log them.
//
// It does not fall back when the error is the caller's (ErrEmptyKey,
// ErrBadRule) or when ctx is done; those errors are returned as they are.
// While it falls back, limits are as strict as secondary makes them: with an
// in-process secondary, each process keeps its own budget. Every call still
// tries primary first, so each fallback costs primary's time to fail; for a
// Redis primary that is bounded by the client's DialTimeout, DialerRetries
// and ReadTimeout (with go-redis defaults, ~0.4 s against a closed port).
func Fallback(primary, secondary Limiter, onFallback func(error)) Limiter {
	return &fallback{primary: primary, secondary: secondary, onFallback: onFallback}
}

type fallback struct {
	primary, secondary Limiter
	onFallback         func(error)
}

func (f *fallback) Allow(ctx context.Context, key string, rules ...Rule) (Decision, error) {
	d, err := f.primary.Allow(ctx, key, rules...)
	if err == nil || isCallerError(err) || ctx.Err() != nil {
		return d, err
	}
	if f.onFallback != nil {
		f.onFallback(err)
	}
	return f.secondary.Allow(ctx, key, rules...)
}

func (f *fallback) AllowAll(ctx context.Context, checks ...Check) (Decision, error) {
	d, err := f.primary.AllowAll(ctx, checks...)
	if err == nil || isCallerError(err) || ctx.Err() != nil {
		return d, err
	}
	if f.onFallback != nil {
		f.onFallback(err)
	}
	return f.secondary.AllowAll(ctx, checks...)
}
