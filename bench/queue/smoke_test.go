package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary serve as the Go contenders' child process
// (the harness re-executes os.Executable() with "child <spec>").
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "child" {
		childMain(os.Args[2])
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs every contender through every scenario with small N
// (about a minute on 2 cores). It needs redis-server, node/npm and
// PostgreSQL on 127.0.0.1:5432 (river-pg is skipped without it), so it runs
// only with ATLAS_BENCH_SMOKE=1:
//
//	cd bench/queue && ATLAS_BENCH_SMOKE=1 go test -run Smoke -v -timeout 15m .
func TestSmoke(t *testing.T) {
	if os.Getenv("ATLAS_BENCH_SMOKE") != "1" {
		t.Skip("set ATLAS_BENCH_SMOKE=1 to run the queue benchmark smoke run")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "bullmq")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = "node"
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("npm ci: %v", err)
		}
	}
	cfg := defaultConfig()
	cfg.Smoke = true
	cfg.N, cfg.NAdd, cfg.NSmall, cfg.Rates, cfg.SteadySecs = 2000, 300, 100, "300", 3
	cfg.Concs = "10"
	cfg.DelayMin, cfg.DelayMax = 200, 1000
	cfg.Timeout = 60
	cfg.Contenders = "jobq-redis,jobq-sqlite,bullmq,asynq,river-pg,river-sqlite"
	cfg.Scenarios = "add,bulk,burn,steady,delayed,idle,retry"
	cfg.Redis = "own"
	cfg.PG = "postgres://postgres@127.0.0.1:5432/atlas_bench"
	if err := run(cfg); err != nil {
		t.Fatal(err)
	}
}
