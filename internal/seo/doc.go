// Package seo is Atlas's SEO service: it runs sitemap rebuilds as a
// singleton job, refreshes SEO state after changes (seo-refresh), fans
// cache invalidations out, schedules the nightly rebuild and keeps post
// slug redirects. The sitemap engine itself (building, publishing and
// serving generations) is internal/sitemap; salon writes that need a new
// sitemap are internal/salon.
//
// The parts others plug in:
//   - Service: rebuild requests through the SitemapRebuildRequested outbox
//     event (the only way to ask for one), the rebuild-sitemap and
//     seo-refresh job handlers (Register), the singleton (a database lease
//     across processes plus coalescing of queued requests), rollout modes
//     with shadow fingerprints, RebuildInline (salon writes in sync and
//     shadow modes) and the nightly-sitemap scheduler (EnsureSchedule);
//   - Jobs: the handler bodies RebuildSitemap and SEORefresh;
//   - CacheHub: fans cache invalidations out to the HTTP layer's caches;
//   - Redirects (RenamePost, ResolvePostSlug): post slug history. Salon
//     slug history is written by internal/salon and read by
//     store.ResolveSalonSlug.
package seo
