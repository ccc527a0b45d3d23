package app_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/store/storetest"
)

// events is a concurrency-safe log of what happened, in order.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, s)
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.got, ", ")
}

type fakeComponent struct {
	name     string
	ev       *events
	startErr error
}

func (c *fakeComponent) Name() string { return c.name }

func (c *fakeComponent) Start(context.Context) error {
	if c.startErr != nil {
		return c.startErr
	}
	c.ev.add("start " + c.name)
	return nil
}

func (c *fakeComponent) Close(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		c.ev.add("close " + c.name + " without deadline")
		return nil
	}
	c.ev.add("close " + c.name)
	return nil
}

// addrWriter reports the address of the "listening on" line.
type addrWriter struct{ addr chan string }

func (w addrWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(string(p), "\n") {
		if a, ok := strings.CutPrefix(line, "listening on "); ok {
			select {
			case w.addr <- a:
			default:
			}
		}
	}
	return len(p), nil
}

// startProcess runs a whole process (app.New, then Run) with extra
// components and readiness checks, and returns its base URL, a cancel func
// and Run's result.
func startProcess(t *testing.T, timeout time.Duration, comps []app.Component, checks []httpapi.Check) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	_, base, cancel, done := startRun(t, app.Config{DataDir: storetest.TempDataDir(t), HTTP: true, Workers: true,
		ShutdownTimeout: timeout}, &app.Hooks{Components: comps, Checks: checks})
	return base, cancel, done
}

// startRun runs app.New(cfg, hooks), then Run on a free loopback port, and
// returns the App, its base URL, a cancel func and Run's result.
func startRun(t *testing.T, cfg app.Config, hooks *app.Hooks) (*app.App, string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := addrWriter{addr: make(chan string, 1)}
	cfg.Addr, cfg.Stdout = "127.0.0.1:0", out
	a, err := app.New(ctx, cfg, hooks)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case addr := <-out.addr:
		return a, "http://" + addr, cancel, done
	case err := <-done:
		cancel()
		return a, "", cancel, func() <-chan error { c := make(chan error, 1); c <- err; return c }()
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("no 'listening on' within 30s")
	}
	return nil, "", nil, nil
}

// slowCheck makes /readyz take d, giving the test an in-flight request.
func slowCheck(ev *events, d time.Duration) httpapi.Check {
	return httpapi.Check{Name: "slow", Run: func(context.Context) error {
		ev.add("request started")
		time.Sleep(d)
		ev.add("request done")
		return nil
	}}
}

func TestShutdownDrainsThenClosesComponentsInReverse(t *testing.T) {
	t.Parallel()
	ev := &events{}
	base, cancel, done := startProcess(t, 10*time.Second,
		[]app.Component{&fakeComponent{name: "a", ev: ev}, &fakeComponent{name: "b", ev: ev}},
		[]httpapi.Check{slowCheck(ev, 700*time.Millisecond)})
	defer cancel()
	// HTTP may answer before the components have started; wait for them
	// so the order below is deterministic.
	for !strings.Contains(ev.String(), "start b") {
		time.Sleep(5 * time.Millisecond)
	}
	status := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	for !strings.Contains(ev.String(), "request started") {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-status; code != 200 {
		t.Errorf("in-flight request during shutdown got %d, want 200 (drained)", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	want := "start a, start b, request started, request done, close b, close a"
	if got := ev.String(); got != want {
		t.Errorf("events = %s\nwant     %s", got, want)
	}
}

func TestStartFailureStopsStartedComponents(t *testing.T) {
	t.Parallel()
	ev := &events{}
	boom := errors.New("boom")
	_, cancel, done := startProcess(t, 5*time.Second, []app.Component{
		&fakeComponent{name: "a", ev: ev}, &fakeComponent{name: "b", ev: ev, startErr: boom}, &fakeComponent{name: "c", ev: ev},
	}, nil)
	defer cancel()
	select {
	case err := <-done:
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "start b") {
			t.Errorf("Run = %v, want the start error of b", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run kept running after a component failed to start")
	}
	if got := ev.String(); got != "start a, close a" {
		t.Errorf("events = %s, want start a, close a", got)
	}
}

// TestNewFailsCleanly: a wiring error after the store and the queues are
// open is returned (with what was opened closed), not a panic.
func TestNewFailsCleanly(t *testing.T) {
	t.Parallel()
	hooks := &app.Hooks{Routes: func(rs outbox.Routes) {
		rs["Orphan"] = outbox.Route{Event: "Orphan", Module: "geo", Queue: queues.QueueAnalytics, Job: "nobody-handles-this",
			JobID: outbox.EventJobID}
	}}
	a, err := app.New(context.Background(), app.Config{DataDir: t.TempDir(), Workers: true}, hooks)
	if err == nil || a != nil || !strings.Contains(err.Error(), "no handler for nobody-handles-this") {
		t.Fatalf("New = %v, %v; want nil and the missing handler", a, err)
	}
}
