package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

type redisServer struct {
	addr, mode, version string
	db, pid             int
	cmd                 *exec.Cmd
	cli                 *redis.Client
}

// startRedis starts a private redis-server with AOF (appendfsync everysec,
// as in production) on a free port, or attaches to addr.
func startRedis(addr string, db int, tmp string) (*redisServer, error) {
	r := &redisServer{db: db}
	if addr == "own" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		dir := filepath.Join(tmp, "redis")
		_ = os.MkdirAll(dir, 0o755)
		r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
			"--maxmemory-policy", "noeviction", "--logfile", filepath.Join(dir, "redis.log"))
		r.cmd.SysProcAttr = dieWithParent()
		if err := r.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start redis-server: %w", err)
		}
		r.addr = fmt.Sprintf("127.0.0.1:%d", port)
		r.mode = "private redis-server, appendonly yes, appendfsync everysec, no RDB snapshots"
		r.db = 0
	} else {
		r.addr = addr
		r.mode = "shared redis-server (settings as found)"
	}
	r.cli = redis.NewClient(&redis.Options{Addr: r.addr, DB: r.db})
	ctx := context.Background()
	var err error
	for i := 0; i < 100; i++ {
		if err = r.cli.Ping(ctx).Err(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		r.stop()
		return nil, fmt.Errorf("redis at %s: %w", r.addr, err)
	}
	info, err := r.cli.Info(ctx, "server", "persistence").Result()
	if err != nil {
		r.stop()
		return nil, err
	}
	r.version = infoField(info, "redis_version")
	r.pid, _ = strconv.Atoi(infoField(info, "process_id"))
	if addr != "own" {
		r.mode += fmt.Sprintf(" (aof_enabled:%s)", infoField(info, "aof_enabled"))
	}
	return r, nil
}

func infoField(info, name string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
			return v
		}
	}
	return ""
}

func (r *redisServer) flush() error {
	ctx := context.Background()
	if r.cmd != nil {
		return r.cli.FlushAll(ctx).Err()
	}
	return r.cli.FlushDB(ctx).Err()
}

func (r *redisServer) resetStats() error {
	return r.cli.ConfigResetStat(context.Background()).Err()
}

var cmdstatRe = regexp.MustCompile(`^cmdstat_([^:]+):calls=(\d+),usec=(\d+)`)

// commandStats returns calls per command, and under "usec:<cmd>" the
// microseconds Redis spent in it (a script's usec includes its calls).
func (r *redisServer) commandStats() (map[string]int64, error) {
	info, err := r.cli.Info(context.Background(), "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range strings.Split(info, "\n") {
		if m := cmdstatRe.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			out[m[1]] = n
			us, _ := strconv.ParseInt(m[3], 10, 64)
			out["usec:"+m[1]] = us
		}
	}
	return out, nil
}

// benchmark runs redis-benchmark -q -n 100000 -t set,lpush (unpipelined,
// 50 clients) against the server, then flushes.
func (r *redisServer) benchmark() map[string]float64 {
	host, port, _ := net.SplitHostPort(r.addr)
	out, err := exec.Command("redis-benchmark", "-h", host, "-p", port, "-n", "100000", "-q", "-t", "set,lpush").CombinedOutput()
	res := map[string]float64{}
	if err != nil {
		logf("redis-benchmark: %v", err)
		return res
	}
	re := regexp.MustCompile(`([A-Z]+): ([0-9.]+) requests per second`)
	// -q output uses \r to redraw progress; keep final figures only.
	for _, m := range re.FindAllStringSubmatch(strings.ReplaceAll(string(out), "\r", "\n"), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		res[m[1]] = v
	}
	_ = r.flush()
	return res
}

func (r *redisServer) stop() {
	if r.cli != nil {
		r.cli.Close()
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = r.cmd.Process.Kill()
		}
	}
}

// preparePG creates the benchmark database if missing and returns the
// server version.
func preparePG(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return "", err
	}
	dbname := cc.Database
	admin := cc.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", dbname).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbname}.Sanitize()); err != nil {
			return "", err
		}
	}
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

// dieWithParent makes a child process (redis-server, a contender) get
// SIGKILL when the harness dies, so an interrupted run leaves no orphan
// server or worker competing for the CPU with the next run. Linux only, as
// is the harness (it reads /proc).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
