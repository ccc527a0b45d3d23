package cli

import (
	"context"
	"log/slog"
	"strings"

	"github.com/sevra/atlas/internal/queues"
)

// openQueues opens the queue backend the configuration selects.
func openQueues(ctx context.Context, cfg *Config, log *slog.Logger) (*queues.Backend, error) {
	b, err := queues.OpenBackend(ctx, queues.BackendConfig{
		RedisURL: cfg.RedisURL, RedisPrefix: cfg.RedisPrefix, AllowUnsafeRedis: cfg.AllowUnsafeRedis,
		DataDir: cfg.DataDir, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("queue backend ready", "kind", b.Kind, "location", b.Location)
	return b, nil
}

// backendCloser closes the queue backend as the last component.
type backendCloser struct{ b *queues.Backend }

func (backendCloser) Name() string                  { return "queue backend" }
func (backendCloser) Start(context.Context) error   { return nil }
func (c backendCloser) Close(context.Context) error { return c.b.Close() }

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
