package jobqredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// needBinaries gates tests that start their own Redis processes: they run
// with the other Redis tests (ATLAS_TEST_REDIS_URL set) when the binaries
// are on PATH, skip otherwise, and fail under ATLAS_TEST_REQUIRE_SERVICES=1
// when a binary is missing.
func needBinaries(t *testing.T, bins ...string) {
	t.Helper()
	testURL(t)
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s is not on PATH but ATLAS_TEST_REQUIRE_SERVICES=1", b)
			}
			t.Skipf("%s is not on PATH; install Redis >= 7 to run this test", b)
		}
	}
}

// freePort returns a loopback TCP port that is free now; with bus it also
// checks port+10000 (the cluster bus port).
func freePort(t *testing.T, bus bool) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			_ = l.Close()
			return port
		}
		if port+10000 > 65535 {
			_ = l.Close()
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = l2.Close()
		return port
	}
	t.Fatal("no free port")
	return 0
}

// redisProc is a redis-server this test started on a loopback port, with
// its own working directory. Cleanup kills it.
type redisProc struct {
	t    *testing.T
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
	log  *os.File
}

// startRedisProc starts redis-server on a free port in dir (a new temp dir
// when empty) with extra arguments, and waits until it answers PING.
func startRedisProc(t *testing.T, dir string, bus bool, extra ...string) *redisProc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	port := freePort(t, bus)
	args := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
		"--daemonize", "no", "--protected-mode", "no"}, extra...)
	p := &redisProc{t: t, port: port, dir: dir, args: args}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *redisProc) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

func (p *redisProc) url() string { return "redis://" + p.addr() + "/0" }

func (p *redisProc) start() {
	p.t.Helper()
	lf, err := os.OpenFile(filepath.Join(p.dir, fmt.Sprintf("redis-%d.log", p.port)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.log = lf
	c := exec.Command("redis-server", p.args...)
	c.Dir, c.Stdout, c.Stderr = p.dir, lf, lf
	if err := c.Start(); err != nil {
		p.t.Fatalf("start redis-server: %v", err)
	}
	p.cmd = c
	cl := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer cl.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := cl.Ping(ctx).Err()
		cancel()
		// LOADING: the server is up but still reading its AOF/RDB
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(lf.Name())
	p.t.Fatalf("redis-server on %d did not answer PING:\n%s", p.port, b)
}

// kill9 kills the server with SIGKILL (no shutdown save).
func (p *redisProc) kill9() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
	_ = p.log.Close()
}

// restart starts the server again with the same port, directory and
// arguments.
func (p *redisProc) restart() {
	p.t.Helper()
	p.kill9()
	p.start()
}

func (p *redisProc) stop() { p.kill9() }

// startCluster starts a 3-master Redis Cluster (no replicas) on loopback
// ports and returns a cluster client for it; cleanup kills the nodes.
func startCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	dir := t.TempDir()
	var nodes []*redisProc
	var addrs []string
	for i := range 3 {
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		n := startRedisProc(t, sub, true, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no")
		nodes = append(nodes, n)
		addrs = append(addrs, n.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.addr()})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				_ = c.Close()
				t.Fatalf("cluster node %s not ok: %v %q", n.addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = c.Close()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = cc.Close() })
	// every node must know the full slot map before the first command
	for {
		err := cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
		if err == nil {
			if slots, err := cc.ClusterSlots(ctx).Result(); err == nil && len(slots) == 3 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("cluster client not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cc
}
