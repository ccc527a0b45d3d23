package site_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sevra/atlas/internal/seed"
)

// BenchmarkPages serves salon and city pages in process (the handler
// alone, no network), rotating over every salon or city of the demo data
// set with the read cache on, as production does: the CPU cost of a page.
// The load test over HTTP is bench/site/run.sh.
func BenchmarkPages(b *testing.B) {
	for _, d := range dialects() {
		b.Run(d.name, func(b *testing.B) {
			r := newRig(b, d.open(b), seed.Demo)
			h := r.a.Handler()
			for _, kind := range []string{"salons", "cities"} {
				var paths []string
				rows, err := r.st.DB().Query("SELECT slug FROM " + kind + " ORDER BY id")
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					var s string
					rows.Scan(&s)
					paths = append(paths, fmt.Sprintf("/%s/%s", kind, s))
				}
				rows.Close()
				b.Run(kind, func(b *testing.B) {
					for _, p := range paths { // warm the cache
						h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
					}
					b.ReportAllocs()
					b.ResetTimer()
					i := 0
					for b.Loop() {
						req := httptest.NewRequest(http.MethodGet, paths[i%len(paths)], nil)
						req.Header.Set("Accept-Encoding", "gzip")
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != http.StatusOK {
							b.Fatalf("%s: %d", paths[i%len(paths)], w.Code)
						}
						i++
					}
				})
			}
		})
	}
}
