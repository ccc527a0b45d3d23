package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The admin session cookie, set by the dashboard's login form.
const (
	// CookieName is the admin session cookie's name.
	CookieName = "atlas_admin"
	// CookiePath scopes the cookie to the dashboard.
	CookiePath = "/admin"
)

// The cookie's value is "v2.<expiry unix>.<id>.<mac>": an expiry, a random
// session id and an HMAC keyed by (a digest of) the admin token, never the
// token. The MAC makes forged values cheap to refuse; the id must also be
// live in the CookieStore, so logout (RevokeCookie) ends the session at
// once, in every process that shares the store.
const cookieVersion = "v2"

// CookieStore keeps the dashboard's live cookie sessions server-side.
// auth.Sessions implements it on the database (shared by every process);
// NewMemoryCookies keeps them in one process.
type CookieStore interface {
	// AddCookie records a new session id, live until expires.
	AddCookie(ctx context.Context, id string, expires time.Time) error
	// CookieLive reports whether id was added, has not expired and was
	// not revoked.
	CookieLive(ctx context.Context, id string) (bool, error)
	// RevokeCookie ends id's session; an unknown id is not an error.
	RevokeCookie(ctx context.Context, id string) error
}

// mac returns base64url(HMAC-SHA256(cookieKey, msg)).
func (a *Authenticator) mac(msg string) string {
	h := hmac.New(sha256.New, a.cookieKey[:])
	h.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// NewCookie starts a dashboard session for r, a request that has just
// shown the admin token, and returns its cookie: HttpOnly,
// SameSite=Strict, on CookiePath, Secure over TLS (or X-Forwarded-Proto:
// https), lasting CookieTTL. The session is recorded in the CookieStore.
func (a *Authenticator) NewCookie(r *http.Request) (*http.Cookie, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("cookie session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	expires := a.now().Add(a.cookieTTL).Truncate(time.Second)
	exp := strconv.FormatInt(expires.Unix(), 10)
	if err := a.cookies.AddCookie(r.Context(), id, expires); err != nil {
		return nil, fmt.Errorf("start dashboard session: %w", err)
	}
	v := cookieVersion + "." + exp + "." + id + "." + a.mac("session|"+cookieVersion+"|"+exp+"|"+id)
	return cookie(r, v, int(a.cookieTTL/time.Second)), nil
}

// ClearCookie returns the cookie that clears r's admin session cookie in
// the browser; RevokeCookie ends the session itself.
func (a *Authenticator) ClearCookie(r *http.Request) *http.Cookie {
	return cookie(r, "", -1)
}

// RevokeCookie ends the session of cookie value v (logout): the value no
// longer verifies anywhere the CookieStore is shared. An invalid value is
// not an error.
func (a *Authenticator) RevokeCookie(ctx context.Context, v string) error {
	id, ok := a.parseCookie(v)
	if !ok {
		return nil
	}
	return a.cookies.RevokeCookie(ctx, id)
}

func cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: value, Path: CookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	}
}

// CookieSession returns the value of r's admin session cookie when it is
// valid (VerifyCookie).
func (a *Authenticator) CookieSession(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || !a.VerifyCookieContext(r.Context(), c.Value) {
		return "", false
	}
	return c.Value, true
}

// VerifyCookie is VerifyCookieContext without a deadline.
func (a *Authenticator) VerifyCookie(value string) bool {
	return a.VerifyCookieContext(context.Background(), value)
}

// VerifyCookieContext reports whether value is an admin session cookie
// this admin token issued, that has not expired and whose session is live
// in the CookieStore (not logged out). With admin access off, or when the
// store cannot answer, it is false.
func (a *Authenticator) VerifyCookieContext(ctx context.Context, value string) bool {
	id, ok := a.parseCookie(value)
	if !ok {
		return false
	}
	live, err := a.cookies.CookieLive(ctx, id)
	return err == nil && live
}

// parseCookie checks value's form, expiry and MAC and returns its session
// id.
func (a *Authenticator) parseCookie(value string) (string, bool) {
	if !a.adminOn {
		return "", false
	}
	parts := strings.Split(value, ".")
	if len(parts) != 4 || parts[0] != cookieVersion {
		return "", false
	}
	e, id, sig := parts[1], parts[2], parts[3]
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || a.now().Unix() >= exp || id == "" {
		return "", false
	}
	if !hmac.Equal([]byte(sig), []byte(a.mac("session|"+cookieVersion+"|"+e+"|"+id))) {
		return "", false
	}
	return id, true
}

// CSRFToken returns the CSRF token that forms posted with the admin session
// cookie value session must carry. The cookie is HttpOnly and
// SameSite=Strict, so another site can neither read nor derive it.
func (a *Authenticator) CSRFToken(session string) string { return a.mac("csrf|" + session) }

// VerifyCSRF reports, in constant time, whether token is session's CSRF
// token. Empty tokens, and every token with admin access off, are refused.
func (a *Authenticator) VerifyCSRF(session, token string) bool {
	return a.adminOn && token != "" && hmac.Equal([]byte(token), []byte(a.CSRFToken(session)))
}

// SameOrigin reports whether r was not sent by a browser from another
// site: by Sec-Fetch-Site, else Origin, else Referer. Requests with none of
// them (curl) pass; cookie sessions still need the CSRF token.
func SameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	for _, h := range []string{"Origin", "Referer"} {
		v := r.Header.Get(h)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
	}
	return true
}
