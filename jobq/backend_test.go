package jobq_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sevra/atlas/jobq"
)

var errDown = errors.New("storage down")

// plainBackend has neither optional ability; IsPaused records its queue
// and fails with err.
type plainBackend struct {
	jobq.Backend
	err    error
	pinged string
}

func (b *plainBackend) IsPaused(_ context.Context, queue string) (bool, error) {
	b.pinged = queue
	return false, b.err
}

// ableBackend has both optional abilities.
type ableBackend struct {
	plainBackend
	pings int
}

func (b *ableBackend) Ping(context.Context) error { b.pings++; return b.err }

func (b *ableBackend) Health(context.Context) (jobq.HealthReport, error) {
	return jobq.HealthReport{Version: "1.0", Warnings: []string{"unsafe"}}, b.err
}

func TestPing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	plain := &plainBackend{}
	if err := jobq.Ping(ctx, plain); err != nil || plain.pinged == "" {
		t.Errorf("fallback ping = %v, read queue %q", err, plain.pinged)
	}
	if err := jobq.Ping(ctx, &plainBackend{err: errDown}); !errors.Is(err, errDown) {
		t.Errorf("failing fallback ping = %v, want it to wrap %v", err, errDown)
	}
	able := &ableBackend{}
	if err := jobq.Ping(ctx, able); err != nil || able.pings != 1 || able.pinged != "" {
		t.Errorf("ping = %v after %d Ping calls (fallback read %q)", err, able.pings, able.pinged)
	}
	if err := jobq.Ping(ctx, &ableBackend{plainBackend: plainBackend{err: errDown}}); !errors.Is(err, errDown) {
		t.Errorf("failing ping = %v, want %v", err, errDown)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if h, ok, err := jobq.Health(ctx, &plainBackend{}); ok || err != nil || h.Version != "" || !h.OK() {
		t.Errorf("unsupported Health = %+v, %v, %v", h, ok, err)
	}
	h, ok, err := jobq.Health(ctx, &ableBackend{})
	if !ok || err != nil || h.Version != "1.0" || h.OK() {
		t.Errorf("Health = %+v, %v, %v", h, ok, err)
	}
	if _, ok, err := jobq.Health(ctx, &ableBackend{plainBackend: plainBackend{err: errDown}}); !ok || !errors.Is(err, errDown) {
		t.Errorf("failing Health: ok %v, err %v", ok, err)
	}
}
