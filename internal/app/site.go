package app

import (
	"time"

	"github.com/sevra/atlas/internal/httpapi"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/site"
)

// wireSite builds the public HTML pages (internal/site) over the store and
// the shared read cache, with the sitemap's base URL (canonical URLs equal
// its <loc>), post redirects and the views counter, attaches the pages'
// invalidator to the cache hub, and sets the writer that attaches photos
// and files verification requests.
func (a *App) wireSite(deps *httpapi.Deps) error {
	m := a.mods
	ttl := a.cfg.CacheTTL
	if ttl == 0 {
		ttl = time.Minute // httpapi's default for the same cache
	}
	cfg := site.Config{Store: a.st, BaseURL: a.cfg.SEO.BaseURL, Cache: m.cache, TTL: max(ttl, 0),
		Posts: seo.NewRedirects(a.st), Logger: a.log}
	if m.views != nil {
		cfg.Views = m.views
	}
	if m.media != nil {
		cfg.MediaURL = m.media.URL
	}
	srv, err := site.New(cfg)
	if err != nil {
		return err
	}
	if m.hub != nil {
		m.hub.Attach(srv)
	}
	deps.Site = srv
	deps.SiteWriter = site.NewWriter(a.st, m.hub)
	return nil
}
