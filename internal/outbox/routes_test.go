package outbox

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// samplePayloads has one realistic payload per event type.
var samplePayloads = map[string]string{
	MediaUploaded:           `{"mediaId":7,"storageKey":"tmp/7.jpg"}`,
	SitemapRebuildRequested: `{}`,
	ReviewCreated:           `{"reviewId":11,"salonId":3}`,
	SalonChanged:            `{"salonId":3,"cityId":2}`,
	VerificationApproved:    `{"entityType":"salon","entityId":3}`,
	OTPRequested:            `{"challengeId":"c-19"}`,
}

func TestEveryEventTypeHasARoute(t *testing.T) {
	t.Parallel()
	routes := DefaultRoutes()
	if len(routes) != len(EventTypes) {
		t.Fatalf("%d routes for %d event types", len(routes), len(EventTypes))
	}
	for _, typ := range EventTypes {
		r, ok := routes[typ]
		if !ok {
			t.Errorf("event %s has no route", typ)
			continue
		}
		if r.Event != typ || r.Job == "" || !slices.Contains(queues.Queues, r.Queue) || !rollout.Known(r.Module) {
			t.Errorf("route %+v: bad event, job, queue or module", r)
		}
		if r.Dedup != "" && r.Delay <= r.DedupTTL {
			t.Errorf("route %s: delay %s must exceed the dedup TTL %s, or a coalesced update can be lost", typ, r.Delay, r.DedupTTL)
		}
		p, ok := samplePayloads[typ]
		if !ok {
			t.Errorf("no sample payload for %s", typ)
			continue
		}
		data, opts, err := r.Build(Event{ID: NewID(), Type: typ, Payload: json.RawMessage(p), Mode: rollout.Async})
		if err != nil {
			t.Errorf("build %s: %v", typ, err)
			continue
		}
		if opts.JobID == "" || strings.Contains(opts.JobID, ":") || strings.Contains(opts.JobID, "{") {
			t.Errorf("%s: job id %q", typ, opts.JobID)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil || m["mode"] != "async" || m["eventId"] == nil {
			t.Errorf("%s: data %s (%v)", typ, data, err)
		}
	}
}

func TestRouteBuild(t *testing.T) {
	t.Parallel()
	trace := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	routes := DefaultRoutes()
	tests := []struct {
		name, typ, payload string
		wantID, wantDedup  string
		wantErr            error
	}{
		{"review", ReviewCreated, `{"reviewId":1,"salonId":42}`, "evt-e1", "review-agg-42", nil},
		{"media", MediaUploaded, `{"mediaId":9,"storageKey":"k"}`, "media-9", "", nil},
		{"otp string id", OTPRequested, `{"challengeId":"abc_1"}`, "otp-abc_1", "", nil},
		{"missing field", ReviewCreated, `{"reviewId":1}`, "", "", ErrBadPayload},
		{"colon in id", OTPRequested, `{"challengeId":"a:b"}`, "", "", ErrBadPayload},
		{"float id", MediaUploaded, `{"mediaId":1.5}`, "", "", ErrBadPayload},
		{"not an object", ReviewCreated, `[1]`, "", "", ErrBadPayload},
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
	routes := DefaultRoutes()
	f.Fuzz(func(t *testing.T, payload string) {
		for _, typ := range EventTypes {
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
