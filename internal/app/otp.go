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
	var limiter ratelimit.Limiter = ratelimit.NewMemory(ratelimit.MemoryConfig{})
	if c := a.backend.RedisClient(); c != nil {
		fallbacks := a.otpFallbacks()
		shared := boundedLimiter{ratelimit.NewRedis(c, a.cfg.Redis.Prefix+":atlas:ratelimit").InSlot("otp"), 150 * time.Millisecond}
		limiter = ratelimit.Fallback(shared, limiter, func(error) { fallbacks() })
	}
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

// otpFallbacks counts rate limiter fallbacks from Redis to the process
// (atlas_otp_rate_limiter_fallbacks_total) and logs at most one line a
// minute about them.
func (a *App) otpFallbacks() func() {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "atlas_otp_rate_limiter_fallbacks_total",
		Help: "OTP rate limit checks made in this process because the shared (Redis) limiter did not answer."})
	a.metrics.MustRegister(c)
	var last atomic.Int64
	return func() {
		c.Inc()
		now := time.Now().Unix()
		if prev := last.Load(); now-prev >= 60 && last.CompareAndSwap(prev, now) {
			a.log.Warn("otp: redis rate limiter unavailable; limiting in this process only")
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
