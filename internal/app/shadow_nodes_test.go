package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/rollout"
)

// TestShadowResultsSharedByNodes: a comparison recorded by one App (a
// worker) is what another App sharing the database shows (the dashboard's
// reads and /metrics), and the kept mismatches stay bounded.
func TestShadowResultsSharedByNodes(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			testShadowResultsShared(t, db)
		})
	}
}

func testShadowResultsShared(t *testing.T, db string) {
	hook, url, st := sharedDB(t, db)
	start := func() *app.App {
		return apptest.Start(t, app.Config{DataDir: t.TempDir(), DatabaseURL: url, HTTP: true}, &app.Hooks{Store: hook}, true)
	}
	worker, api := start(), start()
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	worker.Shadow().Record(ctx, rollout.Comparison{Module: "reviews", Subject: "salon 7", Match: true})
	worker.Shadow().Record(ctx, rollout.Comparison{Module: "reviews", Subject: "salon 8", IDs: []any{"job", "review-agg-8"},
		Live: struct{ Count int }{3}, Shadow: struct{ Count int }{4}, At: at})

	counts := api.Shadow().Counts()
	if len(counts) != 1 || counts[0] != (rollout.Counts{Module: "reviews", Match: 1, Mismatch: 1}) {
		t.Errorf("the other node's counts = %+v, want reviews 1 match 1 mismatch", counts)
	}
	recent := api.Shadow().RecentMismatches()
	if len(recent) != 1 {
		t.Fatalf("the other node's mismatches = %+v, want 1", recent)
	}
	m := recent[0]
	if m.Module != "reviews" || m.Subject != "salon 8" || !m.At.Equal(at) || m.Live != "{Count:3}" || m.Shadow != "{Count:4}" ||
		len(m.IDs) != 2 || m.IDs[1] != "review-agg-8" {
		t.Errorf("the other node's mismatch = %+v", m)
	}

	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`atlas_shadow_results_recorded{module="reviews",result="match"} 1`,
		`atlas_shadow_results_recorded{module="reviews",result="mismatch"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the other node's /metrics lacks %s", want)
		}
	}

	// Bounded: 100 mismatches are kept (the App's setting), oldest first out.
	for i := range 150 {
		worker.Shadow().Record(ctx, rollout.Comparison{Module: "geo", Subject: "city " + string(rune('a'+i%26)), At: at.Add(time.Duration(i) * time.Second)})
	}
	var rows int
	if err := st.DB().QueryRow(`SELECT count(*) FROM shadow_mismatches`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 100 {
		t.Errorf("shadow_mismatches holds %d rows, want 100", rows)
	}
	recent = api.Shadow().RecentMismatches()
	if len(recent) != 100 || !recent[99].At.Equal(at.Add(149*time.Second)) || !recent[0].At.Equal(at.Add(50*time.Second)) {
		t.Errorf("kept mismatches: %d, first %v, last %v; want 100 from +50s to +149s", len(recent), recent[0].At, recent[len(recent)-1].At)
	}
}
