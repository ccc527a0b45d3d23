package cli

import (
	"strings"
	"time"

	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/jobq"
)

// sitemapSettings are the settings of the processes that serve or build
// sitemaps (run, serve, worker).
func (c *Config) sitemapSettings() []setting {
	return []setting{
		checked(stringSetting(&c.SEO.BaseURL, "base-url", "ATLAS_BASE_URL", "http://localhost:8080",
			"public origin (plus optional path) that sitemap URLs and robots.txt start with, e.g. https://atlas.example"),
			func(v string) error { _, err := sitemap.ParseBaseURL(v); return err }),
		{flag: "sitemap-schedule", env: "ATLAS_SITEMAP_SCHEDULE", def: seo.DefaultSchedule,
			usage: "cron pattern of the nightly sitemap rebuild (job scheduler nightly-sitemap on queue maintenance); off (or an empty flag) removes it",
			set: func(v string) error {
				v = strings.TrimSpace(v)
				if v == "off" || v == "none" {
					v = ""
				}
				if v != "" {
					// The parser the job schedulers use: the CLI accepts
					// exactly the patterns jobq does.
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
