package rollout

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Mode
		err  bool
	}{
		{"", Async, false}, {"sync", Sync, false}, {" Shadow ", Shadow, false}, {"ASYNC", Async, false},
		{"later", "", true}, {"sync,async", "", true},
	}
	for _, tc := range tests {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseMode(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidMode) {
			t.Errorf("error %v does not wrap ErrInvalidMode", err)
		}
	}
}

// Module names as the module packages declare them.
const (
	Reviews Module = "reviews"
	Geo     Module = "geo"
	Media   Module = "media"
)

func TestModes(t *testing.T) {
	t.Parallel()
	ms := Modes{Reviews: Shadow, Geo: Sync}
	if ms.Mode(Reviews) != Shadow || ms.Mode(Media) != Async || Modes(nil).Mode("sms") != Async {
		t.Fatal("modes lookup")
	}
	if !Shadow.Inline() || !Shadow.Enqueues() || Sync.Enqueues() || Async.Inline() {
		t.Fatal("mode predicates")
	}
	if s := ms.Format([]Module{Media, Reviews, Geo}); s != "media=async,reviews=shadow,geo=sync" {
		t.Fatal(s)
	}
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	reg := prometheus.NewRegistry()
	r, err := NewRecorder(slog.New(slog.NewTextHandler(&buf, nil)), reg, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r.Record(ctx, Comparison{Module: Reviews, Subject: "salon 1", Live: 1, Shadow: 1, Match: true})
	for i := range 3 {
		r.Record(ctx, Comparison{Module: Reviews, Subject: "salon 2", IDs: []any{"job", i}, Live: 1, Shadow: 2})
	}
	if got := testutil.ToFloat64(r.results.WithLabelValues("reviews", "mismatch")); got != 3 {
		t.Fatalf("mismatch counter %v", got)
	}
	if got := testutil.ToFloat64(r.results.WithLabelValues("reviews", "match")); got != 1 {
		t.Fatalf("match counter %v", got)
	}
	c := r.Counts()
	if len(c) != 1 || c[0].Match != 1 || c[0].Mismatch != 3 {
		t.Fatalf("counts %+v", c)
	}
	if rm := r.RecentMismatches(); len(rm) != 2 || rm[1].IDs[1] != 2 {
		t.Fatalf("recent %+v", rm)
	}
	if !strings.Contains(buf.String(), "shadow result mismatch") || !strings.Contains(buf.String(), "subject=\"salon 2\"") {
		t.Fatalf("log %s", buf.String())
	}
}
