package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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

// The cookie's value is "v1.<expiry unix>.<mac>": an expiry and an HMAC
// keyed by (a digest of) the admin token, never the token.
const cookieVersion = "v1"

// mac returns base64url(HMAC-SHA256(cookieKey, msg)).
func (a *Authenticator) mac(msg string) string {
	h := hmac.New(sha256.New, a.cookieKey[:])
	h.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// NewCookie returns a fresh admin session cookie for r, a request that has
// just shown the admin token: HttpOnly, SameSite=Strict, on CookiePath,
// Secure over TLS (or X-Forwarded-Proto: https), lasting CookieTTL.
func (a *Authenticator) NewCookie(r *http.Request) *http.Cookie {
	exp := strconv.FormatInt(a.now().Add(a.cookieTTL).Truncate(time.Second).Unix(), 10)
	v := cookieVersion + "." + exp + "." + a.mac("session|"+cookieVersion+"|"+exp)
	return cookie(r, v, int(a.cookieTTL/time.Second))
}

// ClearCookie returns the cookie that ends r's admin session (logout).
func (a *Authenticator) ClearCookie(r *http.Request) *http.Cookie {
	return cookie(r, "", -1)
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
	if err != nil || !a.VerifyCookie(c.Value) {
		return "", false
	}
	return c.Value, true
}

// VerifyCookie reports whether value is an admin session cookie this admin
// token issued and that has not expired. With admin access off it is always
// false.
func (a *Authenticator) VerifyCookie(value string) bool {
	if !a.adminOn {
		return false
	}
	ver, rest, ok := strings.Cut(value, ".")
	if !ok || ver != cookieVersion {
		return false
	}
	e, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(a.mac("session|"+cookieVersion+"|"+e)))
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
