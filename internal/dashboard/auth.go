package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/httpapi"
)

// cookieName is the session cookie; its path is /admin.
const cookieName = "atlas_admin"

// maxFormBytes caps a POSTed form.
const maxFormBytes = 64 << 10

// auth is how a request authenticated.
type auth struct {
	// Via is "bearer", "cookie" or "" (not authenticated).
	Via string
	// CSRF is the token forms must carry (cookie sessions only).
	CSRF string
}

// mac returns base64url(HMAC-SHA256(key = admin token, msg)).
func (s *Server) mac(msg string) string {
	h := hmac.New(sha256.New, []byte(s.cfg.AdminToken))
	h.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// newSession returns a cookie value: "v1.<expiry unix>.<mac>".
func (s *Server) newSession() (string, time.Time) {
	exp := s.cfg.Now().Add(s.cfg.SessionTTL).Truncate(time.Second)
	e := strconv.FormatInt(exp.Unix(), 10)
	return "v1." + e + "." + s.mac("session|v1|"+e), exp
}

// validSession checks a cookie value's expiry and MAC.
func (s *Server) validSession(v string) bool {
	if s.cfg.AdminToken == "" {
		return false
	}
	ver, rest, ok := strings.Cut(v, ".")
	if !ok || ver != "v1" {
		return false
	}
	e, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || s.cfg.Now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(s.mac("session|v1|"+e)))
}

// csrfFor derives a session's CSRF token (the session cookie is HttpOnly
// and SameSite=Strict, so another site can neither read nor derive it).
func (s *Server) csrfFor(session string) string { return s.mac("csrf|" + session) }

// tokenOK compares a typed token with the admin token in constant time
// (both hashed first, so not even the length leaks).
func (s *Server) tokenOK(given string) bool {
	if s.cfg.AdminToken == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(given))), sha256.Sum256([]byte(s.cfg.AdminToken))
	return hmac.Equal(a[:], b[:])
}

// authenticate reports how r authenticated: a valid Bearer admin token, or
// a valid session cookie.
func (s *Server) authenticate(r *http.Request) auth {
	if httpapi.IsAdmin(r, s.cfg.AdminToken) {
		return auth{Via: "bearer"}
	}
	if c, err := r.Cookie(cookieName); err == nil && s.validSession(c.Value) {
		return auth{Via: "cookie", CSRF: s.csrfFor(c.Value)}
	}
	return auth{}
}

// sameOrigin rejects requests a browser sent from another site: by
// Sec-Fetch-Site, else Origin, else Referer. Requests with none of them
// (curl) pass; cookie sessions still need the CSRF token.
func sameOrigin(r *http.Request) bool {
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

// requireAdmin lets authenticated requests through to next. GETs without
// credentials are sent to the login form; a wrong Bearer token gets 401;
// POSTs must also be same-origin and, with a cookie session, carry the
// CSRF token in the form field "csrf".
func (s *Server) requireAdmin(next func(http.ResponseWriter, *http.Request, auth)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.authenticate(r)
		if a.Via == "" {
			if r.Header.Get("Authorization") != "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
				s.errorPage(w, r, a, http.StatusUnauthorized, "The admin token is wrong.")
				return
			}
			http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(loginNext(r)), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if !sameOrigin(r) {
				s.errorPage(w, r, a, http.StatusForbidden, "Cross-origin request refused.")
				return
			}
			if a.Via == "cookie" && !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(a.CSRF)) {
				s.errorPage(w, r, a, http.StatusForbidden, "Missing or wrong CSRF token; reload the page and try again.")
				return
			}
		}
		next(w, r, a)
	})
}

// loginNext is where to go after logging in: the page asked for when it
// was a GET, else the overview.
func loginNext(r *http.Request) string {
	if r.Method == http.MethodGet {
		return r.URL.RequestURI()
	}
	return "/admin/jobs"
}

// safeNext keeps redirects after login inside the dashboard.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.IsAbs() || u.Host != "" || strings.Contains(next, `\`) ||
		(u.Path != "/admin/jobs" && !strings.HasPrefix(u.Path, "/admin/jobs/")) {
		return "/admin/jobs"
	}
	return u.RequestURI()
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
}

type loginView struct {
	Next     string
	Error    string
	Disabled bool
}

// LoginForm serves GET /admin/login.
func (s *Server) LoginForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := safeNext(r.URL.Query().Get("next"))
		if s.authenticate(r).Via != "" {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		s.render(w, r, http.StatusOK, "login", pageData{Title: "Log in", Body: loginView{Next: next, Disabled: s.cfg.AdminToken == ""}})
	})
}

// Login serves POST /admin/login: the form's token, compared in constant
// time, buys a session cookie.
func (s *Server) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if !sameOrigin(r) {
			s.errorPage(w, r, auth{}, http.StatusForbidden, "Cross-origin request refused.")
			return
		}
		next := safeNext(r.PostFormValue("next"))
		if s.cfg.AdminToken == "" {
			s.render(w, r, http.StatusServiceUnavailable, "login", pageData{Title: "Log in", Body: loginView{Next: next, Disabled: true}})
			return
		}
		if !s.tokenOK(r.PostFormValue("token")) {
			s.log.WarnContext(r.Context(), "dashboard login refused", "remote", r.RemoteAddr)
			s.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Log in", Body: loginView{Next: next, Error: "Wrong token."}})
			return
		}
		v, _ := s.newSession()
		s.setCookie(w, r, v, int(s.cfg.SessionTTL/time.Second))
		s.log.InfoContext(r.Context(), "dashboard login", "remote", r.RemoteAddr)
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// Logout serves POST /admin/logout.
func (s *Server) Logout() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, _ auth) {
		s.setCookie(w, r, "", -1)
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
	})
}
