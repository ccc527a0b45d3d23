package geo

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

func TestParsePayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{`{"cityId":3,"mode":"shadow","eventId":"e"}`, true},
		{`{"cityId":0}`, false},
		{`{"cityId":"3"}`, false},
		{`[]`, false},
	}
	for _, tc := range tests {
		p, err := ParsePayload([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("ParsePayload(%s) = %+v, %v", tc.in, p, err)
		}
	}
}

func TestRefreshAndShadow(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	storetest.AddCity(t, st, 1, "tehran", "Tehran")
	storetest.AddSalon(t, st, 10, 1, "rose", "Rose", 9, 2, storetest.Base)
	rec, err := rollout.NewRecorder(nil, prometheus.NewRegistry(), 0)
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(st, rec, nil)
	ctx := context.Background()
	shadowJob := &jobq.Job{ID: "evt-1", Name: JobRefresh, Data: []byte(`{"cityId":1,"mode":"shadow","eventId":"1"}`)}
	// The stored stats are stale: the shadow run reports a mismatch and
	// does not write.
	if _, err := s.handleRefresh(ctx, shadowJob); err != nil {
		t.Fatal(err)
	}
	if c := rec.Counts(); len(c) != 1 || c[0].Mismatch != 1 {
		t.Fatalf("counts %+v", c)
	}
	if _, err := s.handleRefresh(ctx, &jobq.Job{ID: "evt-2", Name: JobRefresh, Data: []byte(`{"cityId":1,"mode":"async"}`)}); err != nil {
		t.Fatal(err)
	}
	stored, computed, err := st.CityStatsFor(ctx, 1)
	if err != nil || stored != computed || stored.ReviewCount != 2 {
		t.Fatalf("after refresh: %+v vs %+v, %v", stored, computed, err)
	}
	if _, err := s.handleRefresh(ctx, shadowJob); err != nil {
		t.Fatal(err)
	}
	if c := rec.Counts(); c[0].Match != 1 {
		t.Fatalf("counts %+v", c)
	}
}
