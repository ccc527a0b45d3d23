package outbox

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/rollout"
)

// testRoutes is a routing table shaped like the modules' routes: a
// per-resource job id, a per-event job id with a coalescing window, and a
// string id.
func testRoutes(t testing.TB) Routes {
	rs, err := NewRoutes(
		Route{Event: "Uploaded", Module: "media", Queue: "media", Job: "variants", JobID: "media-{mediaId}"},
		Route{Event: "Reviewed", Module: "reviews", Queue: "analytics", Job: "agg", JobID: EventJobID,
			Dedup: "review-agg-{salonId}", DedupTTL: time.Second, Delay: 2 * time.Second},
		Route{Event: "Requested", Module: "media", Queue: "notifications", Job: "send", JobID: "otp-{challengeId}"},
	)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// samplePayloads has one realistic payload per test event type.
var samplePayloads = map[string]string{
	"Uploaded":  `{"mediaId":7,"storageKey":"tmp/7.jpg"}`,
	"Reviewed":  `{"reviewId":11,"salonId":3}`,
	"Requested": `{"challengeId":"c-19"}`,
}

func TestNewRoutesRefusesBadTables(t *testing.T) {
	t.Parallel()
	ok := Route{Event: "A", Queue: "q", Job: "j", JobID: EventJobID}
	tests := []struct {
		name string
		rs   []Route
	}{
		{"duplicate event", []Route{ok, ok}},
		{"no job id", []Route{{Event: "A", Queue: "q", Job: "j"}}},
		{"no queue", []Route{{Event: "A", Job: "j", JobID: EventJobID}}},
		{"delay within the dedup window", []Route{{Event: "A", Queue: "q", Job: "j", JobID: EventJobID,
			Dedup: "d", DedupTTL: time.Second, Delay: time.Second}}},
	}
	for _, tc := range tests {
		if _, err := NewRoutes(tc.rs...); err == nil {
			t.Errorf("%s: NewRoutes accepted %+v", tc.name, tc.rs)
		}
	}
	if rs, err := NewRoutes(ok); err != nil || len(rs) != 1 {
		t.Fatalf("NewRoutes(ok) = %v, %v", rs, err)
	}
}

func TestRouteJobIDFor(t *testing.T) {
	t.Parallel()
	r := testRoutes(t)["Uploaded"]
	if id, err := r.JobIDFor(map[string]int64{"mediaId": 42}); err != nil || id != "media-42" {
		t.Fatalf("JobIDFor = %q, %v; want media-42", id, err)
	}
	if _, err := r.JobIDFor(map[string]int64{"other": 1}); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("JobIDFor without the field: %v", err)
	}
}

func TestRouteBuild(t *testing.T) {
	t.Parallel()
	trace := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	routes := testRoutes(t)
	tests := []struct {
		name, typ, payload string
		wantID, wantDedup  string
		wantErr            error
	}{
		{"review", "Reviewed", `{"reviewId":1,"salonId":42}`, "evt-e1", "review-agg-42", nil},
		{"media", "Uploaded", `{"mediaId":9,"storageKey":"k"}`, "media-9", "", nil},
		{"otp string id", "Requested", `{"challengeId":"abc_1"}`, "otp-abc_1", "", nil},
		{"missing field", "Reviewed", `{"reviewId":1}`, "", "", ErrBadPayload},
		{"colon in id", "Requested", `{"challengeId":"a:b"}`, "", "", ErrBadPayload},
		{"float id", "Uploaded", `{"mediaId":1.5}`, "", "", ErrBadPayload},
		{"not an object", "Reviewed", `[1]`, "", "", ErrBadPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, opts, err := routes[tc.typ].Build(Event{ID: "e1", Type: tc.typ, Payload: json.RawMessage(tc.payload), Trace: trace, Mode: rollout.Shadow})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.JobID != tc.wantID {
				t.Errorf("job id %q, want %q", opts.JobID, tc.wantID)
			}
			if got := ""; opts.Deduplication != nil {
				got = opts.Deduplication.ID
				if got != tc.wantDedup {
					t.Errorf("dedup %q, want %q", got, tc.wantDedup)
				}
			} else if tc.wantDedup != "" {
				t.Errorf("no dedup, want %q", tc.wantDedup)
			}
			var meta Meta
			if err := json.Unmarshal(data, &meta); err != nil || meta.Trace != trace || !meta.Shadow() || meta.EventID != "e1" {
				t.Errorf("meta %+v from %s (%v)", meta, data, err)
			}
		})
	}
}

// FuzzRouteBuild feeds arbitrary payloads to every route: Build either
// fails with ErrBadPayload or yields a valid job id and JSON data.
func FuzzRouteBuild(f *testing.F) {
	for _, p := range samplePayloads {
		f.Add(p)
	}
	f.Add(`{"salonId":"x:y"}`)
	f.Add(`null`)
	f.Add(`{"mediaId":-1,"eventId":"hijack"}`)
	routes := testRoutes(f)
	f.Fuzz(func(t *testing.T, payload string) {
		for typ := range routes {
			data, opts, err := routes[typ].Build(Event{ID: "abc", Type: typ, Payload: json.RawMessage(payload)})
			if err != nil {
				if !errors.Is(err, ErrBadPayload) {
					t.Fatalf("%s: error %v does not wrap ErrBadPayload", typ, err)
				}
				continue
			}
			if opts.JobID == "" || strings.Contains(opts.JobID, ":") {
				t.Fatalf("%s: job id %q", typ, opts.JobID)
			}
			var meta Meta
			if err := json.Unmarshal(data, &meta); err != nil || meta.EventID != "abc" {
				t.Fatalf("%s: data %s: %v", typ, data, err)
			}
		}
	})
}
