package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/sevra/atlas/internal/httpapi"
)

// ServerConfig holds the HTTP server's timeouts and connection cap. Zero
// fields take the defaults stated on them.
type ServerConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers; default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (a slow
	// body is cut there); default 30s. POST /api/v1/media and the sitemap
	// rebuild get LongTimeout instead.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the
	// end of its answer; default 60s (LongTimeout for the long routes).
	WriteTimeout time.Duration
	// LongTimeout is the read and write deadline of the routes that need
	// longer: uploads (POST /api/v1/media) and the sitemap rebuild;
	// default 5m.
	LongTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long; default
	// 60s.
	IdleTimeout time.Duration
	// MaxConns caps the open connections; more wait to be accepted
	// (golang.org/x/net/netutil.LimitListener); default 1024.
	MaxConns int
}

func (c ServerConfig) withDefaults() ServerConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 60*time.Second)
	def(&c.LongTimeout, 5*time.Minute)
	def(&c.IdleTimeout, 60*time.Second)
	if c.MaxConns <= 0 {
		c.MaxConns = 1024
	}
	return c
}

// Shutdown phases. Run splits ShutdownTimeout into budgets so that no
// phase can starve the next: HTTP drain gets the first half; the
// components (queue workers first, schedulers) run until 85%; the outbox
// relay and the closers (image engine, queue backend) keep the last 15%.
// A phase that runs out of budget is cut: in-flight requests end as 503
// shutting_down (counted by atlas_http_shutdown_cut_total, logged as a
// warning, never as a 500), and jobs still running are left to the
// stalled-job check. A cut shutdown is still a clean exit (Run returns
// nil, exit status 0); only failures other than running out of time are
// errors.
const (
	httpPhase  = 0.50
	workPhase  = 0.85
	finalPhase = 1.00
)

// listen opens the listener with the connection cap and builds the server.
func (a *App) listen() (net.Listener, *http.Server, context.CancelCauseFunc, error) {
	sc := a.cfg.Server.withDefaults()
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return nil, nil, nil, err
	}
	base, cancel := context.WithCancelCause(context.Background())
	srv := &http.Server{Handler: a.handler,
		ReadHeaderTimeout: sc.ReadHeaderTimeout, ReadTimeout: sc.ReadTimeout, WriteTimeout: sc.WriteTimeout,
		IdleTimeout: sc.IdleTimeout,
		BaseContext: func(net.Listener) context.Context { return base },
		ErrorLog:    slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	return netutil.LimitListener(ln, sc.MaxConns), srv, cancel, nil
}

// shutdown stops srv (may be nil) and the components within the phase
// budgets of ShutdownTimeout, from start. It returns the errors that are
// not a phase running out of time.
func (a *App) shutdown(ctx context.Context, srv *http.Server, cut context.CancelCauseFunc) error {
	start := time.Now()
	at := func(f float64) time.Time { return start.Add(time.Duration(f * float64(a.cfg.ShutdownTimeout))) }
	var errs []error
	if srv != nil {
		hctx, cancel := context.WithDeadline(ctx, at(httpPhase))
		err := srv.Shutdown(hctx)
		cancel()
		if err != nil {
			// Out of time: cut what is left. Handlers see the cause and
			// answer 503 shutting_down; Close ends their connections.
			a.log.Warn("shutdown: HTTP drain budget spent; cutting in-flight requests",
				"budget", at(httpPhase).Sub(start).Round(time.Millisecond), "err", err)
			cut(httpapi.ErrShutdown)
			srv.Close()
		}
	}
	wctx, wcancel := context.WithDeadline(ctx, at(workPhase))
	defer wcancel()
	fctx, fcancel := context.WithDeadline(ctx, at(finalPhase))
	defer fcancel()
	for _, err := range a.closePhased(wctx, fctx) {
		if errors.Is(err, context.DeadlineExceeded) {
			a.log.Warn("shutdown: a phase budget was spent; work left is recovered on restart", "err", err)
			continue
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
