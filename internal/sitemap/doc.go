// Package sitemap builds, publishes and serves Atlas's sitemaps.
//
// A rebuild streams salons, cities and published posts from the database
// with keyset pagination, one short read per page, and writes gzipped
// child sitemaps of at most 45,000 URLs and under 50 MB uncompressed plus a
// sitemap index into a fresh generation directory under
// <dataDir>/sitemaps/. Children are written first, the index last, every
// file is fsynced, and only then does the live pointer switch (write
// current.tmp, fsync, rename to current). Readers resolve the live
// generation once per request, so they never see a mix of generations,
// and a crash mid-build leaves the previous sitemap live. Generations
// other than the live and the previous one are garbage collected after
// each publish.
//
// Child file names carry the generation id, so an index from one
// generation can never point at a child of another.
//
// What the package provides:
//   - NewBuilder and Builder.Rebuild: the rebuild itself (BuildSide builds
//     an unpublished side generation for shadow comparisons);
//   - NewPublisher: the on-disk generations and the live pointer;
//   - NewURLSetWriter and WriteIndex: the streaming sitemap writers;
//   - ParseBaseURL and BaseURL: the validated public origin of every URL;
//   - FingerprintDir: a generation's fingerprint, for shadow comparisons;
//   - Handler: GET /sitemap.xml, /sitemaps/{file} and /robots.txt.
//
// The package knows nothing of jobs, leases or rollout modes: internal/seo
// runs rebuilds as the rebuild-sitemap job, under a database lease that
// makes them a singleton across processes.
package sitemap
