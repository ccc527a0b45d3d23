package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/ratelimit"
)

// DefaultAuthFailures is how many failed authentications (a wrong Bearer
// token, a wrong dashboard login) one client address may make per window
// before its requests with credentials are answered 429 until the window
// lets one more through.
var DefaultAuthFailures = ratelimit.Rule{Name: "auth-fail", Limit: 20, Window: time.Minute}

// maxBlocked bounds the blocked-address table.
const maxBlocked = 100_000

// authGuard counts failed authentications per client address and blocks
// addresses over the limit. A blocked address's credentials are not even
// checked, so guessing gains nothing from the answers: every guess is 429
// until the block ends. The failures are counted in a ratelimit.Limiter
// (in process by default); the block is remembered in this process.
type authGuard struct {
	lim     ratelimit.Limiter
	rule    ratelimit.Rule
	trusted []netip.Prefix
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	blocked map[string]time.Time // client address → end of block
}

func newAuthGuard(d Deps) *authGuard {
	g := &authGuard{lim: d.AuthLimiter, rule: d.AuthFailures, trusted: d.TrustedProxies, now: d.Now, log: d.Logger,
		blocked: map[string]time.Time{}}
	if g.rule == (ratelimit.Rule{}) {
		g.rule = DefaultAuthFailures
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.lim == nil {
		g.lim = ratelimit.NewMemory(ratelimit.MemoryConfig{Now: d.Now})
	}
	return g
}

// wait returns how long r's client address stays blocked (0: not).
func (g *authGuard) wait(r *http.Request) time.Duration {
	ip := clientIP(r, g.trusted)
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.blocked[ip]
	if !ok {
		return 0
	}
	if d := until.Sub(g.now()); d > 0 {
		return d
	}
	delete(g.blocked, ip)
	return 0
}

// fail records a failed authentication from r's client address and
// returns how long it is now blocked (0: not).
func (g *authGuard) fail(ctx context.Context, r *http.Request) time.Duration {
	ip := clientIP(r, g.trusted)
	dec, err := g.lim.Allow(ctx, ip, g.rule)
	if err != nil {
		g.log.WarnContext(ctx, "failed-auth limiter", "err", err)
		return 0 // fail open: the credentials were wrong anyway
	}
	if dec.Allowed {
		return 0
	}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.blocked) >= maxBlocked {
		for k, until := range g.blocked {
			if !until.After(now) {
				delete(g.blocked, k)
			}
		}
	}
	if len(g.blocked) < maxBlocked {
		g.blocked[ip] = now.Add(dec.RetryAfter)
	}
	g.log.WarnContext(ctx, "client blocked after failed authentications", "client", ip, "retry_after", dec.RetryAfter)
	return dec.RetryAfter
}

// tooMany answers 429 with Retry-After.
func tooMany(w http.ResponseWriter, r *http.Request, log *slog.Logger, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, r, log, &statusError{status: http.StatusTooManyRequests, code: "too_many_failed_auth",
		msg: "too many failed authentications from this address; retry after the time in Retry-After"})
}

// authenticate is the one authenticate middleware (auth.Authenticator):
// it puts the caller's auth.Identity (admin token or user session) in the
// request context and refuses nothing for missing credentials;
// requireAdmin and actingUser do. Wrong credentials are counted per
// client address (authGuard): past the limit the address gets 429 for any
// request with credentials. A failed session lookup is answered as an
// error (500).
func authenticate(log *slog.Logger, a *auth.Authenticator, g *authGuard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, hasToken := auth.BearerToken(r)
		if hasToken {
			if wait := g.wait(r); wait > 0 {
				tooMany(w, r, log, wait)
				return
			}
		}
		id, err := a.Authenticate(r)
		switch {
		case err == nil:
			r = r.WithContext(auth.NewContext(r.Context(), id))
		case errors.Is(err, auth.ErrUnauthenticated):
			if hasToken {
				if wait := g.fail(r.Context(), r); wait > 0 {
					tooMany(w, r, log, wait)
					return
				}
			}
		default:
			writeError(w, r, log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guardLogin counts the dashboard login form's refusals (401: wrong
// token) like wrong Bearer tokens, and blocks the address past the limit.
func guardLogin(log *slog.Logger, g *authGuard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait := g.wait(r); wait > 0 {
			tooMany(w, r, log, wait)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code() == http.StatusUnauthorized {
			g.fail(r.Context(), r)
		}
	})
}
