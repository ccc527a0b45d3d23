package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// authSecretFile holds the generated secret of a deployment that sets no
// ATLAS_AUTH_SECRET (one process, the embedded defaults).
const authSecretFile = "auth.secret"

// authSecret is Config.OTP.Secret, or the secret in <DataDir>/auth.secret,
// created (64 random bytes, hex, mode 0600) on first start. Several nodes
// must share one secret: set ATLAS_AUTH_SECRET on each.
func (a *App) authSecret() ([]byte, error) {
	if len(a.cfg.OTP.Secret) > 0 {
		return a.cfg.OTP.Secret, nil
	}
	path := filepath.Join(a.cfg.DataDir, authSecretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < otp.MinSecretLen {
			return nil, fmt.Errorf("%s: %w", path, otp.ErrWeakSecret)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read auth secret: %w", err)
	}
	var raw [64]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("auth secret: %w", err)
	}
	s := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(a.cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return a.authSecret() // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("write auth secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write auth secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write auth secret: %w", err)
	}
	if a.cfg.Redis.URL != "" || a.cfg.DatabaseURL != "" {
		a.log.Warn("ATLAS_AUTH_SECRET is not set: generated " + path + "; every node of a deployment must share one secret, so set ATLAS_AUTH_SECRET")
	}
	return []byte(s), nil
}
