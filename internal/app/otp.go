package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/ratelimit"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sms"
)

// wireOTP builds the user sessions, the SMS provider, the rate limiter and
// the OTP service, and registers send-otp.
func (a *App) wireOTP(shadow rollout.Comparer) error {
	cfg := a.cfg.OTP
	secret, err := a.authSecret()
	if err != nil {
		return err
	}
	provider, err := sms.Open(cfg.Provider, a.cfg.Getenv, a.log)
	if err != nil {
		return err
	}
	a.mods.sessions = auth.NewSessions(a.st, cfg.SessionTTL, nil)
	limiter := a.sharedLimiter("otp", a.limiterFallbacks("atlas_otp_rate_limiter_fallbacks_total",
		"OTP rate limit checks made in this process because the shared (Redis) limiter did not answer.",
		"otp: redis rate limiter unavailable; limiting in this process only"))
	svc, err := otp.New(otp.Config{Store: a.st, Outbox: a.outbox, Sessions: a.mods.sessions, Provider: provider,
		Secret: secret, TTL: cfg.TTL, Countries: cfg.Countries, Limits: cfg.Limits, Limiter: limiter,
		Mode: a.cfg.Modes.Mode(otp.Module), Shadow: shadow, Logger: a.log, Registry: a.metrics})
	if err != nil {
		return err
	}
	svc.Register(a.registry)
	a.mods.otp = svc
	a.log.Info("otp login", "provider", svc.Provider(), "mode", svc.Mode(), "ttl", cfg.TTL)
	return nil
}

// boundedLimiter gives the shared limiter a deadline of its own, so a
// Redis that does not answer costs a login request at most d before
// Fallback limits in this process instead.
type boundedLimiter struct {
	l ratelimit.Limiter
	d time.Duration
}

func (b boundedLimiter) Allow(ctx context.Context, key string, rules ...ratelimit.Rule) (ratelimit.Decision, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.d)
	defer cancel()
	return b.l.Allow(ctx, key, rules...)
}

func (b boundedLimiter) AllowAll(ctx context.Context, checks ...ratelimit.Check) (ratelimit.Decision, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.d)
	defer cancel()
	return b.l.AllowAll(ctx, checks...)
}

// sharedLimiter is the rate limiter every node shares, in Redis (its keys
// under the hash tag slot when not empty), with this process's memory as the
// fallback while Redis does not answer (each fallback calls fallbacks);
// without Redis (single node) it is the memory limiter.
func (a *App) sharedLimiter(slot string, fallbacks func()) ratelimit.Limiter {
	var limiter ratelimit.Limiter = ratelimit.NewMemory(ratelimit.MemoryConfig{})
	if c := a.backend.RedisClient(); c != nil {
		r := ratelimit.NewRedis(c, a.cfg.Redis.Prefix+":atlas:ratelimit")
		if slot != "" {
			r = r.InSlot(slot)
		}
		shared := boundedLimiter{r, 150 * time.Millisecond}
		limiter = ratelimit.Fallback(shared, limiter, func(error) { fallbacks() })
	}
	return limiter
}

// limiterFallbacks counts a shared limiter's fallbacks from Redis to the
// process in the counter name and logs msg at most once a minute.
func (a *App) limiterFallbacks(name, help, msg string) func() {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	a.metrics.MustRegister(c)
	var last atomic.Int64
	return func() {
		c.Inc()
		now := time.Now().Unix()
		if prev := last.Load(); now-prev >= 60 && last.CompareAndSwap(prev, now) {
			a.log.Warn(msg)
		}
	}
}

// authSecret is Config.OTP.Secret, or the secret generated on first
// start and stored in the database (64 random bytes, hex), so every node
// sharing the database shares it. Setting ATLAS_AUTH_SECRET keeps it out
// of the database.
func (a *App) authSecret() ([]byte, error) {
	if len(a.cfg.OTP.Secret) > 0 {
		return a.cfg.OTP.Secret, nil
	}
	s, err := a.st.Secret(context.Background(), "otp", func() (string, error) {
		var raw [64]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", fmt.Errorf("auth secret: %w", err)
		}
		return hex.EncodeToString(raw[:]), nil
	})
	if err != nil {
		return nil, err
	}
	if len(s) < otp.MinSecretLen {
		return nil, fmt.Errorf("stored auth secret: %w", otp.ErrWeakSecret)
	}
	return []byte(s), nil
}
