package jobqsqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestPing checks Ping on an empty database, on one with a queue, with a
// cancelled context and after Close.
func TestPing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := openTest(t)
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("ping empty database: %v", err)
	}
	mustAdd(t, d, "q", 0, &jobqdriver.Job{})
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Ping(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("ping with a cancelled context = %v, want context.Canceled", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(ctx); !errors.Is(err, jobqdriver.ErrClosed) {
		t.Fatalf("ping after close = %v, want ErrClosed", err)
	}
}
