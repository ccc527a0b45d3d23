package app

import (
	"context"
	"time"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/views"
)

// wireViews builds the post-view counter: its buffer (a Redis hash shared
// by every node, or this process's memory), the flush job and its
// schedule, and, with the in-process buffer, a flusher of its own (only
// the process that counted the views can apply them).
func (a *App) wireViews(shadow rollout.Comparer) error {
	var buf views.Buffer
	if c := a.backend.RedisClient(); c != nil {
		rb := views.NewRedisBuffer(c, views.RedisConfig{Prefix: a.cfg.Redis.Prefix + ":atlas"})
		// Closed before the Redis client (components close in reverse).
		a.components = append(a.components, closer{name: "post views batcher", close: rb.Close})
		buf = rb
	} else {
		buf = views.NewMemoryBuffer()
	}
	svc, err := views.New(views.Config{Store: a.st, Buffer: buf, Mode: a.cfg.Modes.Mode(views.Module), Shadow: shadow,
		Cache: httpapi.CacheInvalidator{Cache: a.mods.cache, Slugs: a.st}, Registry: a.metrics, Logger: a.log})
	if err != nil {
		return err
	}
	svc.Register(a.registry)
	a.mods.views = svc
	every := a.cfg.Views.FlushEvery
	if every <= 0 {
		every = views.DefaultFlushEvery
	}
	a.components = append(a.components, &viewsScheduleComponent{a: a, svc: svc, every: every})
	if _, local := buf.(*views.MemoryBuffer); local {
		a.components = append(a.components, svc.Flusher(every))
	}
	a.log.Info("post views", "mode", svc.Mode(), "buffer", map[bool]string{true: "in process", false: "redis"}[a.backend.RedisClient() == nil], "flush_every", every)
	return nil
}

// viewsScheduleComponent upserts the flush-post-views job scheduler at
// start (idempotent across processes and restarts).
type viewsScheduleComponent struct {
	a     *App
	svc   *views.Service
	every time.Duration
}

func (c *viewsScheduleComponent) Name() string { return "post views schedule" }

func (c *viewsScheduleComponent) Start(ctx context.Context) error {
	return c.svc.EnsureSchedule(ctx, c.a.producer, c.every)
}

func (c *viewsScheduleComponent) Close(context.Context) error { return nil }
