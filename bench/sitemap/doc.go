// Package sitemap benchmarks the sitemap rebuild (internal/seo) on SQLite:
// rebuild time, allocation and peak heap for large salon counts seeded with
// internal/seed. It holds no code outside its benchmark; run it with
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/sitemap
//
// and set ATLAS_BENCH_SALONS=1000000 to add a 1M-salon case (seeding it
// takes minutes and about 0.5 GB of disk). Figures and method are in
// README.md.
package sitemap
