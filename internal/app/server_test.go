package app_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/store/storetest"
)

// closedWithin reports whether the server closes conn within d (a read
// returns EOF or a reset, not a timeout of our own).
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// TestServerClosesIdleAndSlowConnections: an idle keep-alive connection
// is closed after IdleTimeout, a request whose body stalls after
// ReadTimeout, and connections past MaxConns wait to be accepted.
func TestServerClosesIdleAndSlowConnections(t *testing.T) {
	t.Parallel()
	_, base, cancel, done := startRun(t, app.Config{DataDir: storetest.TempDataDir(t), HTTP: true, AdminToken: "srv-tok",
		Server: app.ServerConfig{IdleTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxConns: 2}}, nil)
	t.Cleanup(func() { cancel(); <-done })
	addr := strings.TrimPrefix(base, "http://")

	// Idle keep-alive: one request answered, then nothing.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz on the keep-alive connection: %v %v", resp, err)
	}
	resp.Body.Close()

	// Slow body: headers and 10 of 1000 bytes, then a stall.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST /api/v1/auth/otp/request HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"phone\":")

	// Both connections are held: a third waits to be accepted.
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond)) // well inside the 2s timeouts
	if n, _ := third.Read(make([]byte, 1)); n > 0 {
		t.Error("a third connection was served while MaxConns=2 were open")
	}

	start := time.Now()
	if !closedWithin(idle, 6*time.Second) {
		t.Error("idle keep-alive connection still open 6s after a 2s IdleTimeout")
	}
	if !closedWithin(slow, 6*time.Second) {
		t.Error("stalled request body still open 6s after a 2s ReadTimeout")
	}
	// With the two closed, the third is served.
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("third connection after the others closed: %v %v", resp, err)
	}
	t.Logf("idle and slow connections closed within %s", time.Since(start).Round(time.Millisecond))
}

// blockingComponent's Close takes until its context ends: a worker that
// does not stop in time.
type blockingComponent struct{}

func (blockingComponent) Name() string                    { return "stuck worker" }
func (blockingComponent) Start(context.Context) error     { return nil }
func (blockingComponent) Close(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

// TestShutdownCutIsCountedAndClean: a request still running when the HTTP
// drain budget is spent is cut and counted as what it is (503
// shutting_down, atlas_http_shutdown_cut_total), never as a 500; a stuck
// component cannot take the outbox relay's budget; and the shutdown, cut
// but orderly, returns nil (exit status 0).
func TestShutdownCutIsCountedAndClean(t *testing.T) {
	t.Parallel()
	logs := newSyncLog()
	ev := &events{}
	a, base, cancel, done := startRun(t, app.Config{DataDir: storetest.TempDataDir(t), HTTP: true, Workers: true,
		ShutdownTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(logs, nil))},
		&app.Hooks{Components: []app.Component{blockingComponent{}}, Checks: []httpapi.Check{slowCheck(ev, 3500*time.Millisecond)}})
	defer cancel()
	go func() {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
		}
	}()
	for !strings.Contains(ev.String(), "request started") {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil: a cut shutdown is still a clean exit", err)
	}
	if d := time.Since(start); d > 5*time.Second { // generous: CI machines are busy
		t.Errorf("shutdown took %s with a 2s budget", d)
	}
	// The handler finishes after the cut (its check ignores the context);
	// wait for it to be counted.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ev.String(), "request done") && time.Now().Before(deadline.Add(3*time.Second)) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	reg := a.Metrics()
	if n, err := testutil.GatherAndCount(reg, "atlas_http_shutdown_cut_total"); err != nil || n != 1 {
		t.Errorf("atlas_http_shutdown_cut_total series: %d %v, want 1", n, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "atlas_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var route, code string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "route":
					route = l.GetValue()
				case "code":
					code = l.GetValue()
				}
			}
			if route == "GET /readyz" && code != "503" {
				t.Errorf("the cut /readyz was counted with code %s, want 503", code)
			}
		}
	}
	out := logs.String()
	if strings.Contains(out, "outbox relay: context deadline exceeded") {
		t.Errorf("the stuck worker took the outbox relay's budget:\n%s", out)
	}
	if !strings.Contains(out, "HTTP drain budget spent") || strings.Contains(out, "level=ERROR msg=\"request failed\"") {
		t.Errorf("want the cut logged as a warning and no request failure:\n%s", out)
	}
}
