package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestHostileInputIsRefusedAtTheEdge sends NUL bytes and invalid UTF-8 in
// every slug, the ?city= filter, a review body and a PATCH slug, on SQLite
// and PostgreSQL: each is a 400 (or a 404 for a path that cannot exist),
// never a 500, with the same answer on both engines.
func TestHostileInputIsRefusedAtTheEdge(t *testing.T) {
	t.Parallel()
	const token = "edge-admin-token"
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			cfg := app.Config{DataDir: storetest.TempDataDir(t), HTTP: true, AdminToken: token, Demo: true}
			if engine == "postgres" {
				cfg.DatabaseURL = storetest.IsolatedPostgresURL(t)
			}
			a := apptest.Start(t, cfg, nil, true)
			srv := httptest.NewServer(a.Handler())
			t.Cleanup(srv.Close)
			var salon string
			if err := a.Store().DB().QueryRow("SELECT slug FROM salons ORDER BY id LIMIT 1").Scan(&salon); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				method, path, body string
				status             int
			}{
				{"GET", "/api/v1/salons/%00", "", 404},
				{"GET", "/api/v1/salons/a%00b", "", 404},
				{"GET", "/api/v1/salons/%FF%FE", "", 404},
				{"GET", "/api/v1/cities/%00", "", 404},
				{"GET", "/api/v1/cities/%C3", "", 404},
				{"GET", "/api/v1/posts/%00", "", 404},
				{"GET", "/api/v1/posts/%E2%82", "", 404},
				{"GET", "/api/v1/salons?city=%00", "", 400},
				{"GET", "/api/v1/salons?city=%FF", "", 400},
				{"GET", "/api/v1/salons?city=tehran%00", "", 400},
				{"GET", "/api/v1/salons?sort=%00", "", 400},
				{"GET", "/api/v1/media/%00", "", 404},
				{"GET", "/media/%00/x.jpg", "", 404},
				{"POST", "/api/v1/salons/%00/reviews", `{"rating":5,"body":"x"}`, 404},
				{"POST", "/api/v1/salons/" + salon + "/reviews", `{"rating":5,"body":"a\u0000b"}`, 400},
				{"POST", "/api/v1/salons/" + salon + "/reviews", "{\"rating\":5,\"body\":\"a\xffb\"}", 400},
				{"PATCH", "/api/v1/salons/" + salon, `{"slug":"a\u0000b"}`, 400},
				{"PATCH", "/api/v1/salons/" + salon, "{\"slug\":\"a\xffb\"}", 400},
				{"PATCH", "/api/v1/salons/" + salon, `{"name":"a\u0000b"}`, 400},
				{"PATCH", "/api/v1/salons/%00", `{"verified":true}`, 404},
			}
			for _, tc := range tests {
				req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+token)
				if tc.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("%s %s %q: %d %s, want %d", tc.method, tc.path, tc.body, resp.StatusCode, body, tc.status)
					continue
				}
				if strings.HasPrefix(tc.path, "/api/") {
					var e struct {
						Error struct{ Code, Message string }
					}
					if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
						t.Errorf("%s %s: body %s is not the JSON error shape", tc.method, tc.path, body)
					}
				}
			}
			// Nothing hostile was stored: the salon keeps its slug and
			// has no review with a NUL byte.
			var n int
			if err := a.Store().DB().QueryRow("SELECT count(*) FROM salons WHERE slug = $1", salon).Scan(&n); err != nil || n != 1 {
				t.Errorf("salon %q: count %d, %v", salon, n, err)
			}
		})
	}
}
