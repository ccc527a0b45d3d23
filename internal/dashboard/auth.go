package dashboard

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode"

	atlasauth "github.com/sevra/atlas/internal/auth"
)

// maxFormBytes caps a POSTed form.
const maxFormBytes = 64 << 10

// auth is how a request authenticated.
type auth struct {
	// Via is "bearer", "cookie" or "" (not authenticated).
	Via string
	// CSRF is the token forms must carry (cookie sessions only).
	CSRF string
	// session is the cookie's value (cookie sessions only).
	session string
}

// authenticate reports how r authenticated: a valid Bearer admin token, or
// a valid session cookie.
func (s *Server) authenticate(r *http.Request) auth {
	if id, err := s.auth.Authenticate(r); err == nil && id.Admin {
		return auth{Via: "bearer"}
	}
	if v, ok := s.auth.CookieSession(r); ok {
		return auth{Via: "cookie", CSRF: s.auth.CSRFToken(v), session: v}
	}
	return auth{}
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
			if !atlasauth.SameOrigin(r) {
				s.errorPage(w, r, a, http.StatusForbidden, "Cross-origin request refused.")
				return
			}
			if a.Via == "cookie" && !s.auth.VerifyCSRF(a.session, r.PostFormValue("csrf")) {
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

// safeNext keeps redirects after login inside the dashboard: the path is
// decoded and cleaned ("/admin/jobs/../../api" is "/api") before it is
// checked, and anything that is not a path under /admin/jobs, or holds a
// control character, gives the overview.
func safeNext(next string) string {
	const home = "/admin/jobs"
	u, err := url.Parse(next)
	if err != nil || u.IsAbs() || u.Host != "" || u.Opaque != "" || strings.Contains(next, `\`) {
		return home
	}
	p := path.Clean("/" + u.Path)
	if strings.IndexFunc(p, unicode.IsControl) >= 0 || (p != home && !strings.HasPrefix(p, home+"/")) {
		return home
	}
	return (&url.URL{Path: p, RawQuery: u.RawQuery}).RequestURI()
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
		s.render(w, r, http.StatusOK, "login", pageData{Title: "Log in", Body: loginView{Next: next, Disabled: !s.auth.AdminEnabled()}})
	})
}

// Login serves POST /admin/login: the form's token, compared in constant
// time (internal/auth), buys a session cookie.
func (s *Server) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if !atlasauth.SameOrigin(r) {
			s.errorPage(w, r, auth{}, http.StatusForbidden, "Cross-origin request refused.")
			return
		}
		next := safeNext(r.PostFormValue("next"))
		if !s.auth.AdminEnabled() {
			s.render(w, r, http.StatusServiceUnavailable, "login", pageData{Title: "Log in", Body: loginView{Next: next, Disabled: true}})
			return
		}
		if !s.auth.IsAdminToken(strings.TrimSpace(r.PostFormValue("token"))) {
			s.log.WarnContext(r.Context(), "dashboard login refused", "remote", r.RemoteAddr)
			s.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Log in", Body: loginView{Next: next, Error: "Wrong token."}})
			return
		}
		c, err := s.auth.NewCookie(r)
		if err != nil {
			s.log.ErrorContext(r.Context(), "dashboard login", "err", err)
			s.errorPage(w, r, auth{}, http.StatusServiceUnavailable, "The session could not be started; try again.")
			return
		}
		http.SetCookie(w, c)
		s.log.InfoContext(r.Context(), "dashboard login", "remote", r.RemoteAddr)
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// Logout serves POST /admin/logout: it ends the cookie session
// server-side (a copy of the cookie stops working at once) and clears the
// cookie.
func (s *Server) Logout() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, a auth) {
		if a.Via == "cookie" {
			if err := s.auth.RevokeCookie(r.Context(), a.session); err != nil {
				s.log.ErrorContext(r.Context(), "dashboard logout", "err", err)
				s.errorPage(w, r, a, http.StatusServiceUnavailable, "The session could not be ended; try again.")
				return
			}
		}
		http.SetCookie(w, s.auth.ClearCookie(r))
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
	})
}
