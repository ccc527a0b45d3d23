// Package seo is Atlas's SEO service: it runs sitemap rebuilds as jobs and
// keeps post slug redirects. The sitemap engine itself (building,
// publishing and serving generations) is internal/sitemap.
//
// The parts others plug in:
//   - Service: rebuild requests through the SitemapRebuildRequested outbox
//     event (the only way to ask for one), the rebuild-sitemap and
//     seo-refresh job handlers (Register), the singleton (a database lease
//     across processes plus coalescing of queued requests), rollout modes
//     with shadow fingerprints, verification approval, salon PATCH with
//     slug history, and the nightly-sitemap scheduler (EnsureSchedule);
//   - Jobs: the handler bodies RebuildSitemap and SEORefresh;
//   - CacheHub: fans cache invalidations out to the HTTP layer's caches;
//   - RenamePost and ResolvePostSlug: post slug history (salons are covered
//     by internal/store's RenameSalon and ResolveSalonSlug, and by
//     Service.UpdateSalon).
package seo
