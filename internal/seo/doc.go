// Package seo builds and serves Atlas's sitemaps and keeps slug redirects.
//
// A rebuild (the rebuild-sitemap job on the maintenance queue) streams
// salons, cities and published posts from the database with keyset
// pagination, one short read per page, and writes gzipped child sitemaps of
// at most 45,000 URLs and under 50 MB uncompressed plus a sitemap index into
// a fresh generation directory under <dataDir>/sitemaps/. Children are
// written first, the index last, every file is fsynced, and only then does
// the live pointer switch (write current.tmp, fsync, rename to current).
// Readers resolve the live generation once per request, so they never see a
// mix of generations, and a crash mid-build leaves the previous sitemap
// live. Generations other than the live and the previous one are garbage
// collected after each publish.
//
// Child file names carry the generation id, so an index from one
// generation can never point at a child of another.
//
// The parts others plug in:
//   - NewBuilder and Builder.Rebuild: the rebuild itself (BuildSide builds
//     an unpublished side generation for shadow comparisons);
//   - NewPublisher: the on-disk generations;
//   - Handler: GET /sitemap.xml, /sitemaps/{file} and /robots.txt;
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
