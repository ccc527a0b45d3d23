package app

import (
	"context"
	"strings"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/salon"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/sitemap"
)

// wireSEO builds the sitemap engine (publisher, builder), the SEO service
// and the salon writer, registers the rebuild-sitemap and seo-refresh
// handlers, adds the scheduler component and keeps the HTTP side for the
// handler.
func (a *App) wireSEO(shadow rollout.Comparer) error {
	cfg := a.cfg
	// Generations are built in the data dir and published to the media
	// storage with the live pointer in the database, so every API node
	// serves the same one (see sitemap.Shared).
	pub, err := sitemap.NewPublisher(cfg.DataDir, &sitemap.PublisherOptions{Logger: a.log,
		Shared: &sitemap.Shared{Objects: a.mods.storage, Pointer: a.st}})
	if err != nil {
		return err
	}
	b, err := sitemap.NewBuilder(sitemap.Config{DB: a.st, Publisher: pub, BaseURL: cfg.SEO.BaseURL, Logger: a.log,
		Paths: sitemap.Paths{Media: a.mediaURL}})
	if err != nil {
		return err
	}
	hub := a.mods.hub
	sc := seo.ServiceConfig{Store: a.st, Builder: b, Outbox: a.outbox, Queues: a.producer, Cache: hub,
		Modes: cfg.Modes, Shadow: shadow, Logger: a.log}
	if a.hooks.SEO != nil {
		a.hooks.SEO(&sc)
	}
	svc, err := seo.NewService(sc)
	if err != nil {
		return err
	}
	salons, err := salon.NewService(salon.Config{Store: a.st, Outbox: a.outbox, Sitemap: svc, Cache: hub,
		Cities: a.mods.cities, Modes: cfg.Modes, Logger: a.log})
	if err != nil {
		return err
	}
	svc.Register(a.registry)
	a.mods.seo = svc
	posts := seo.NewRedirects(a.st)
	posts.SetCache(hub) // a rename deletes the post's cached pages
	a.mods.seoHTTP = &httpapi.SEODeps{Service: svc, Caches: hub, Posts: posts, Salons: salons}
	a.components = append(a.components, &scheduleComponent{svc: svc,
		sch: seo.Schedule{Pattern: cfg.SEO.Schedule, TZ: cfg.SEO.ScheduleTZ}})
	return nil
}

// firstSitemap publishes a first sitemap after a fresh demo seed (a few
// thousand URLs, milliseconds) rather than at the nightly rebuild, so
// /sitemap.xml answers from the start; before serving, so an admin
// rebuild cannot race it.
func (a *App) firstSitemap(ctx context.Context) {
	st, err := a.mods.seo.RebuildNow(ctx)
	if err != nil {
		a.log.Warn("first sitemap build after the demo seed failed", "err", err)
		return
	}
	a.log.Info("first sitemap built after the demo seed", "generation", st.Generation, "salons", st.Salons)
}

// scheduleComponent upserts (or removes) the nightly-sitemap scheduler at
// start; upserting the same schedule from several processes or restarts
// is idempotent.
type scheduleComponent struct {
	svc *seo.Service
	sch seo.Schedule
}

func (c *scheduleComponent) Name() string { return "sitemap schedule" }

func (c *scheduleComponent) Start(ctx context.Context) error { return c.svc.EnsureSchedule(ctx, c.sch) }

func (c *scheduleComponent) Close(context.Context) error { return nil }

// mediaURL is the absolute URL of a stored media key in the sitemap: the
// storage's own URL (root-relative "/media/…" for local storage, made
// absolute on the base URL; S3 or CDN URLs as they are).
func (a *App) mediaURL(b sitemap.BaseURL, key string) string {
	u := "/" + key
	if m := a.mods.media; m != nil {
		u = m.URL(key)
	}
	if rest, ok := strings.CutPrefix(u, "/"); ok {
		return b.Join(strings.Split(rest, "/")...)
	}
	return u
}
