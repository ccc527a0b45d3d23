// Command sitemap benchmarks the sitemap rebuild (internal/sitemap) and compares
// its writer with the npm `sitemap` package's streaming writer.
//
//	go run ./bench/sitemap -salons 1000000        # or ./bench/sitemap/run.sh
//
// It seeds N salons (plus 200 cities, 1,000 posts and one ready media row on
// every tenth salon) into SQLite (temporary directory) and PostgreSQL
// (database atlas_bench_sitemap, created and dropped), then times, each in
// a child process so that the peak RSS is that process's own (wait4
// rusage):
//
//   - rebuild-sqlite, rebuild-pg: a full sitemap.Builder.Rebuild as the
//     rebuild-sitemap job runs it (keyset pages, gzipped children, fsync,
//     atomic switch, GC);
//   - go-writer: sitemap.URLSetWriter + sitemap.WriteIndex alone, fed the URL list
//     the SQLite rebuild produced, read from an NDJSON file (no database);
//   - node-writer: npm sitemap's SitemapAndIndexStream on the same NDJSON
//     file, gzipped children of 45,000 URLs (node/bench.js).
//
// Runs alternate (go-writer, node-writer, rebuild-sqlite, rebuild-pg per
// round). BenchmarkRebuild (rebuild_test.go) is the in-process go test
// benchmark of the rebuild on SQLite. Method and figures: README.md and
// docs/BENCHMARKS.md.
package main
