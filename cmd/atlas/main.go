// Command atlas is the Atlas salon directory: API server, workers and tools.
// See `atlas help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sevra/atlas/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so a second
	// one kills the process at once.
	context.AfterFunc(ctx, stop)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
