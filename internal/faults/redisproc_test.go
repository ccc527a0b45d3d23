package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// aofRedis is a private redis-server with AOF (appendfsync everysec), as
// production must run it, on a free loopback port; never the shared 6379.
type aofRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

// startAOFRedis starts the server, or skips (fails under
// ATLAS_TEST_REQUIRE_SERVICES=1) when redis-server is missing or no
// service-backed tests were asked for.
func startAOFRedis(t *testing.T) *aofRedis {
	t.Helper()
	_, err := exec.LookPath("redis-server")
	switch {
	case err != nil && os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1":
		t.Fatal("redis-server is not on PATH but ATLAS_TEST_REQUIRE_SERVICES=1")
	case err != nil:
		t.Skip("redis-server is not on PATH; install Redis to run the Redis fault scenarios")
	case os.Getenv("ATLAS_TEST_REDIS_URL") == "" && os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") != "1":
		t.Skip("set ATLAS_TEST_REDIS_URL to run the Redis fault scenarios (they start their own redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &aofRedis{t: t, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	_ = l.Close()
	r.start()
	t.Cleanup(func() { r.signal(syscall.SIGCONT); r.kill() })
	return r
}

func (r *aofRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start runs redis-server on the same port and directory (so a restart
// replays the AOF) and waits until it has loaded and answers PING.
func (r *aofRedis) start() {
	r.t.Helper()
	logf, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logf.Close()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
	}
	b, _ := os.ReadFile(logf.Name())
	r.t.Fatalf("redis-server on %d did not come up:\n%s", r.port, b)
}

// kill sends SIGKILL (no shutdown, no final fsync) and reaps the process.
func (r *aofRedis) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// signal sends sig (SIGSTOP, SIGCONT) to the running server.
func (r *aofRedis) signal(sig syscall.Signal) {
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(sig)
	}
}
