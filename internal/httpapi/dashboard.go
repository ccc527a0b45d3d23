package httpapi

import "net/http"

// Dashboard is the server-rendered job dashboard's handlers;
// *dashboard.Server (internal/dashboard) implements it. The dashboard does
// its own authentication (admin Bearer token or login cookie) and CSRF
// checks, through internal/auth.
type Dashboard interface {
	LoginForm() http.Handler
	Login() http.Handler
	Logout() http.Handler
	Assets() http.Handler
	Script() http.Handler
	Overview() http.Handler
	Queue() http.Handler
	Job() http.Handler
	QueueAction() http.Handler
	JobAction() http.Handler
}

// addDashboardRoutes mounts the dashboard under /admin (nil: routes off).
func addDashboardRoutes(mux *http.ServeMux, d Deps, guard *authGuard) {
	if d.Dashboard == nil {
		return
	}
	db := d.Dashboard
	mux.Handle("GET /admin/login", db.LoginForm())
	mux.Handle("POST /admin/login", guardLogin(d.Logger, guard, db.Login()))
	mux.Handle("POST /admin/logout", db.Logout())
	mux.Handle("GET /admin/assets/dashboard.css", db.Assets())
	mux.Handle("GET /admin/assets/live.js", db.Script())
	mux.Handle("GET /admin/jobs", db.Overview())
	mux.Handle("GET /admin/jobs/{$}", http.RedirectHandler("/admin/jobs", http.StatusMovedPermanently))
	mux.Handle("GET /admin/jobs/{queue}", db.Queue())
	mux.Handle("GET /admin/jobs/{queue}/{id}", db.Job())
	mux.Handle("POST /admin/jobs/{queue}/{action}", db.QueueAction())
	mux.Handle("POST /admin/jobs/{queue}/{id}/{action}", db.JobAction())
}
