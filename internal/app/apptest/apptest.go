// Package apptest starts an Atlas process (internal/app) inside a test,
// the way every test rig does: build it, start its components, and close
// it when the test ends.
package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
)

// Start builds an App from cfg and hooks, starts its components unless
// noStart, and closes it (within 10 s) when t ends.
func Start(t testing.TB, cfg app.Config, hooks *app.Hooks, noStart bool) *app.App {
	t.Helper()
	ctx := context.Background()
	a, err := app.New(ctx, cfg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(cctx); err != nil {
			t.Logf("close app: %v", err)
		}
	})
	if !noStart {
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return a
}
