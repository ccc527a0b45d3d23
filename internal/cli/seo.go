package cli

import (
	"context"
	"strings"
	"time"
	_ "time/tzdata" // the nightly schedule's time zone (Asia/Tehran) on hosts without zoneinfo

	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/jobq"
)

// SEOConfig is the sitemap module's configuration (Config.SEO).
type SEOConfig struct {
	// BaseURL is the public origin of absolute sitemap URLs.
	BaseURL string
	// Schedule is the nightly rebuild's cron pattern ("" disables it);
	// ScheduleTZ its IANA time zone.
	Schedule, ScheduleTZ string
}

// sitemapSettings are the settings of the processes that serve or build
// sitemaps (run, serve, worker).
func (c *Config) sitemapSettings() []setting {
	return []setting{
		checked(stringSetting(&c.SEO.BaseURL, "base-url", "ATLAS_BASE_URL", "http://localhost:8080",
			"public origin (plus optional path) that sitemap URLs and robots.txt start with, e.g. https://atlas.example"),
			func(v string) error { _, err := seo.ParseBaseURL(v); return err }),
		{flag: "sitemap-schedule", env: "ATLAS_SITEMAP_SCHEDULE", def: seo.DefaultSchedule,
			usage: "cron pattern of the nightly sitemap rebuild (job scheduler nightly-sitemap on queue maintenance); off (or an empty flag) removes it",
			set: func(v string) error {
				v = strings.TrimSpace(v)
				if v == "off" || v == "none" {
					v = ""
				}
				if v != "" {
					if _, err := jobq.ParseCron(v, ""); err != nil {
						return err
					}
				}
				c.SEO.Schedule = v
				return nil
			}},
		checked(stringSetting(&c.SEO.ScheduleTZ, "sitemap-schedule-tz", "ATLAS_SITEMAP_SCHEDULE_TZ", seo.DefaultScheduleTZ,
			"IANA time zone of --sitemap-schedule"),
			func(v string) error { _, err := time.LoadLocation(v); return err }),
	}
}

// wireSEO builds the sitemap publisher, builder and SEO service, registers
// the rebuild-sitemap and seo-refresh handlers, adds the scheduler
// component and leaves the HTTP side in s.SEO.
func wireSEO(s *Services, w Wiring, reg *queues.Registry, ob *outbox.Outbox, shadow *rollout.Recorder, cities *geo.Service) error {
	return wireSEOWith(s, w, reg, ob, shadow, cities, nil)
}

// wireSEOWith is wireSEO with service options tests adjust.
func wireSEOWith(s *Services, w Wiring, reg *queues.Registry, ob *outbox.Outbox, shadow *rollout.Recorder,
	cities *geo.Service, tune func(*seo.ServiceConfig)) error {
	cfg := w.Config
	pub, err := seo.NewPublisher(cfg.DataDir, &seo.PublisherOptions{Logger: w.Logger})
	if err != nil {
		return err
	}
	b, err := seo.NewBuilder(seo.Config{DB: w.Store, Publisher: pub, BaseURL: cfg.SEO.BaseURL, Logger: w.Logger})
	if err != nil {
		return err
	}
	hub := &seo.CacheHub{}
	sc := seo.ServiceConfig{Store: w.Store, Builder: b, Outbox: ob, Queues: s.Jobs, Cache: hub, Cities: cities,
		Modes: cfg.Modes, Shadow: shadow, Logger: w.Logger}
	if cities == nil {
		sc.Cities = nil
	}
	if tune != nil {
		tune(&sc)
	}
	svc, err := seo.NewService(sc)
	if err != nil {
		return err
	}
	svc.Register(reg)
	s.Sitemaps = svc
	s.SEO = &httpapi.SEODeps{Service: svc, Caches: hub, Posts: seo.NewRedirects(w.Store)}
	s.Components = append(s.Components, &scheduleComponent{svc: svc, sch: seo.Schedule{Pattern: cfg.SEO.Schedule, TZ: cfg.SEO.ScheduleTZ}})
	return nil
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
