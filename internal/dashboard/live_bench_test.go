package dashboard

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkOverviewPoll measures one live poll of the overview: "shared"
// is a tab polling while the cached snapshot is fresh (304 from the
// cache, no backend reads), "recomputed" a poll that recomputes the
// snapshot every time (what every tab would cost without the cache).
func BenchmarkOverviewPoll(b *testing.B) {
	for _, c := range []struct {
		name     string
		interval time.Duration
	}{{"shared", time.Hour}, {"recomputed", time.Nanosecond}} {
		b.Run(c.name, func(b *testing.B) {
			f := newFixture(b, func(cfg *Config) { cfg.LiveInterval = c.interval })
			res, _ := f.do(b, request{path: "/admin/jobs", bearer: testToken})
			etag := res.Header.Get("ETag")
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/admin/jobs", nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				req.Header.Set("If-None-Match", etag)
				rec := httptest.NewRecorder()
				f.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusNotModified && rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
