// Package auth decides who a request acts as. It is the one place that
// knows Atlas's credentials:
//
//   - The admin token (ATLAS_ADMIN_TOKEN), sent as "Authorization: Bearer
//     <token>". It acts as admin on every route. Only its SHA-256 digest is
//     kept, and tokens are compared digest to digest in constant time, so
//     neither the token nor its length leaks through timing. An empty admin
//     token disables admin access.
//   - User sessions, also sent as a Bearer token. auth does not store them:
//     it asks a SessionLookup, which the OTP login (POST /auth/otp/verify,
//     POST /auth/logout) provides. With no SessionLookup only the admin
//     token authenticates.
//   - The dashboard's admin session cookie and its CSRF token (cookie.go),
//     bought by typing the admin token into /admin/login. Sessions are
//     kept server-side (CookieStore), so logout ends them at once.
//
// The HTTP layer's authenticate middleware (internal/httpapi) calls
// Authenticate and puts the request's Identity in its context
// (NewContext), where handlers find it with FromContext. It refuses
// nothing for missing credentials; routes that need an identity (or an
// admin one) check for it.
//
// # Adding user sessions (OTP login)
//
// Implement SessionLookup (for example on the store, keeping only a digest
// of each session token, as here for the admin token), return an error
// wrapping ErrUnauthenticated for unknown, expired or revoked tokens, and
// set httpapi.Deps.Sessions to it. Nothing else in the request path
// changes: handlers already act as Identity.UserID for user sessions.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrUnauthenticated means a request carries no credentials that
// authenticate: no Bearer token, or one that is neither the admin token nor
// a session SessionLookup knows.
var ErrUnauthenticated = errors.New("auth: not authenticated")

// Kind is how a request authenticated.
type Kind string

// The kinds of Identity.
const (
	// KindAdmin is the admin token.
	KindAdmin Kind = "admin"
	// KindUser is a user session (OTP login).
	KindUser Kind = "user"
)

// Identity is who an authenticated request acts as.
type Identity struct {
	// Kind is how the request authenticated.
	Kind Kind
	// UserID is the user of a user session. It is 0 for the admin token,
	// which is no user; httpapi attributes its writes to the system user.
	UserID int64
	// Admin grants admin routes: always for the admin token; for a user
	// session as SessionLookup says (the user's role).
	Admin bool
}

// SessionLookup finds user sessions by Bearer token; the OTP login
// implements it.
type SessionLookup interface {
	// LookupSession returns the identity behind a session token. For an
	// unknown, expired or revoked token it returns an error wrapping
	// ErrUnauthenticated; any other error is a failure to look (the
	// request is answered with it). The returned Kind is ignored: it is
	// always KindUser.
	LookupSession(ctx context.Context, token string) (Identity, error)
}

// Config configures an Authenticator.
type Config struct {
	// AdminToken is ATLAS_ADMIN_TOKEN. Empty (the default): admin access
	// is off, and so is the admin cookie. Only its SHA-256 digest is kept.
	AdminToken string
	// Sessions looks up user sessions. Default (nil): only the admin token
	// authenticates.
	Sessions SessionLookup
	// CookieTTL is how long an admin session cookie lasts. Default: 12h.
	CookieTTL time.Duration
	// Cookies keeps the live cookie sessions (logout revokes them).
	// Default: NewMemoryCookies, one process's memory; pass
	// auth.Sessions to share them through the database.
	Cookies CookieStore
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Authenticator checks credentials. It is safe for concurrent use.
type Authenticator struct {
	adminOn     bool
	adminDigest [sha256.Size]byte
	// cookieKey keys the admin cookie's and the CSRF token's MACs; it is
	// derived from the admin token's digest, so changing the token ends
	// every cookie session.
	cookieKey [sha256.Size]byte
	sessions  SessionLookup
	cookies   CookieStore
	cookieTTL time.Duration
	now       func() time.Time
}

// New returns an Authenticator for cfg.
func New(cfg Config) *Authenticator {
	a := &Authenticator{sessions: cfg.Sessions, cookies: cfg.Cookies, cookieTTL: cfg.CookieTTL, now: cfg.Now}
	if a.cookieTTL <= 0 {
		a.cookieTTL = 12 * time.Hour
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.cookies == nil {
		a.cookies = NewMemoryCookies(a.now)
	}
	if cfg.AdminToken != "" {
		a.adminOn = true
		a.adminDigest = sha256.Sum256([]byte(cfg.AdminToken))
		a.cookieKey = sha256.Sum256(append([]byte("atlas admin cookie key\x00"), a.adminDigest[:]...))
	}
	return a
}

// AdminEnabled reports whether an admin token is configured.
func (a *Authenticator) AdminEnabled() bool { return a.adminOn }

// IsAdminToken reports whether token is the admin token, comparing SHA-256
// digests in constant time. With admin access off it is always false.
func (a *Authenticator) IsAdminToken(token string) bool {
	d := sha256.Sum256([]byte(token))
	return a.adminOn && subtle.ConstantTimeCompare(d[:], a.adminDigest[:]) == 1
}

// BearerToken returns the token of r's "Authorization: Bearer <token>"
// header, trimmed of spaces; false if there is none or it is empty.
func BearerToken(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok = strings.TrimSpace(tok); !ok || tok == "" {
		return "", false
	}
	return tok, true
}

// Authenticate returns who r's Bearer token acts as: the admin token, else
// a user session from SessionLookup. It returns ErrUnauthenticated when the
// token is missing or unknown.
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	tok, ok := BearerToken(r)
	if !ok {
		return Identity{}, ErrUnauthenticated
	}
	if a.IsAdminToken(tok) {
		return Identity{Kind: KindAdmin, Admin: true}, nil
	}
	if a.sessions == nil {
		return Identity{}, ErrUnauthenticated
	}
	id, err := a.sessions.LookupSession(r.Context(), tok)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return Identity{}, ErrUnauthenticated
		}
		return Identity{}, fmt.Errorf("auth: look up session: %w", err)
	}
	id.Kind = KindUser
	return id, nil
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the Identity NewContext put in ctx; false for an
// unauthenticated request.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
