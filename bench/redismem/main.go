// Command redismem measures how much Redis memory Atlas's queues take:
//
//  1. Bytes per job in each state (waiting or prioritized, delayed,
//     active, completed, failed) for each of Atlas's queues, with the
//     queue's real default options (retention: completed 1 h, failed
//     7 d) and a payload shaped like the queue's real jobs: the sum of
//     MEMORY USAGE over the queue's keys (job hashes, state sets, lock
//     and dedup keys; the events stream and metrics apart) divided by the
//     jobs, next to the used_memory delta from INFO memory.
//  2. The plan's day: 100k jobs over the four queues, in the mix of
//     dayMix, on a compressed clock (a day in -day of real time): a
//     producer adds each job at its arrival time, one jobq worker per
//     queue runs it (some fail, as real ones do), retention by age runs
//     on the compressed clock. It samples used_memory throughout and
//     reports the peak, the events streams and what dominates at the end.
//
// Everything runs against a private redis-server it starts (AOF everysec,
// noeviction, as production requires) on a free port, so nothing else
// shares the figures. Method and results: docs/BENCHMARKS.md, "Redis
// memory".
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

type config struct {
	Jobs      int           // jobs in the day
	Day       time.Duration // real time the day is compressed into
	StateJobs int           // jobs per queue and state in part 1
	Server    string        // redis-server binary
	Seed      int64
}

func main() {
	cfg := config{Jobs: 100_000, Day: 120 * time.Second, StateJobs: 2000, Server: "redis-server", Seed: 1}
	flag.IntVar(&cfg.Jobs, "jobs", cfg.Jobs, "jobs in the simulated day")
	flag.DurationVar(&cfg.Day, "day", cfg.Day, "real time the 24 h day is compressed into")
	flag.IntVar(&cfg.StateJobs, "state-jobs", cfg.StateJobs, "jobs per queue and state for the bytes-per-job table")
	flag.StringVar(&cfg.Server, "redis-server", cfg.Server, "redis-server binary")
	flag.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed of the day's arrivals and failures")
	flag.Parse()
	ctx := context.Background()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redismem:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
}

// run starts the private Redis and runs both parts.
func run(ctx context.Context, cfg config) (*report, error) {
	srv, err := startRedis(cfg.Server)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rep := &report{cfg: cfg, started: time.Now().UTC()}
	if rep.version, err = srv.client.InfoMap(ctx, "server").Result(); err != nil {
		return nil, err
	}
	if rep.states, err = measureStates(ctx, srv.client, srv.url, cfg.StateJobs); err != nil {
		return nil, fmt.Errorf("bytes per state: %w", err)
	}
	if err := srv.client.FlushAll(ctx).Err(); err != nil {
		return nil, err
	}
	if rep.day, err = runDay(ctx, srv.client, srv.url, cfg); err != nil {
		return nil, fmt.Errorf("day: %w", err)
	}
	return rep, nil
}

// redisServer is a private redis-server in a temporary directory.
type redisServer struct {
	cmd    *exec.Cmd
	dir    string
	url    string
	client *redis.Client
}

func startRedis(bin string) (*redisServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "redismem-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &redisServer{cmd: cmd, dir: dir, url: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	s.client = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s.client.Ping(context.Background()).Err() == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer within 10s", port)
		}
	}
}

func (s *redisServer) stop() {
	s.client.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	os.RemoveAll(s.dir)
}

// usedMemory returns INFO memory's used_memory.
func usedMemory(ctx context.Context, c *redis.Client) (int64, error) {
	m, err := c.InfoMap(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(m["Memory"]["used_memory"]), 10, 64)
}
