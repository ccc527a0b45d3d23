package jobqredis

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// startRedis runs a private redis-server on a free port (no persistence).
func startRedis(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	c := exec.Command("redis-server", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no")
	if err := c.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	for range 100 {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = conn.Close()
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return nil
}

// TestRecoversAfterRestart restarts a private Redis and checks that the
// driver (script cache flushed) and a waiter keep working.
func TestRecoversAfterRestart(t *testing.T) {
	testURL(t) // gated with the other Redis tests
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	srv := startRedis(t, port)
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	ctx := context.Background()
	d, err := Open(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, err := d.NewWaiter(ctx, "q", "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustAdd(t, d, "q", 1, job("a", "n"))
	_ = srv.Process.Kill()
	_ = srv.Wait()
	srv = startRedis(t, port)
	var addErr error
	for range 50 { // the first calls may hit dead pooled connections
		if _, addErr = d.Add(ctx, "q", []*jobqdriver.Job{job("b", "n")}, 2); addErr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if addErr != nil {
		t.Fatalf("add after restart: %v", addErr)
	}
	var werr error
	for range 20 {
		if werr = w.Wait(ctx, time.Second); werr == nil {
			break
		}
	}
	if werr != nil {
		t.Fatalf("waiter after restart: %v", werr)
	}
	if r := fetchN(t, d, "q", 1, 3); len(r.Jobs) != 1 || r.Jobs[0].ID != "b" {
		t.Fatalf("fetch after restart: %v", ids(r.Jobs))
	}
}
