package cli

import (
	"context"
	"runtime/debug"

	"github.com/sevra/atlas/internal/app"
)

func runAll(ctx context.Context, e *env, cfg *Config, _ []string) error {
	return runProcess(ctx, e, cfg, true, true)
}

func runServe(ctx context.Context, e *env, cfg *Config, _ []string) error {
	return runProcess(ctx, e, cfg, true, false)
}

func runWorker(ctx context.Context, e *env, cfg *Config, _ []string) error {
	return runProcess(ctx, e, cfg, false, true)
}

// runProcess builds the process from its configuration (internal/app,
// the one composition root) and runs it until ctx is cancelled.
func runProcess(ctx context.Context, e *env, cfg *Config, withHTTP, withWorkers bool) error {
	if cfg.MemoryLimit > 0 && e.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit) // a soft limit: see docs/OPERATIONS.md
	}
	c := cfg.Config
	c.HTTP, c.Workers = withHTTP, withWorkers
	c.Logger, c.Stdout, c.Getenv = e.log, e.stdout, e.getenv
	a, err := app.New(ctx, c, nil)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
