// Command atlas is the Atlas salon directory: API server, workers and tools.
// See `atlas help`.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/sevra/atlas/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so a second
	// one kills the process at once.
	context.AfterFunc(ctx, stop)
	// go-redis logs connection trouble through a process-wide logger of its
	// own (plain log lines); the process owner routes it into structured
	// logs on stderr, like Atlas's own.
	redis.SetLogger(redisLog{slog.New(slog.NewTextHandler(os.Stderr, nil))})
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// redisLog adapts go-redis's logger interface to slog, at level warn: it
// reports failed dials, pool trouble and the like.
type redisLog struct{ log *slog.Logger }

// Printf implements go-redis's logging interface.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}
