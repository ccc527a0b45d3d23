package app_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
)

// samplePayloads has one realistic payload per event type, with the job
// id each must get (literal, from the DESIGN's table).
var samplePayloads = map[string]struct{ payload, jobID, dedup string }{
	"MediaUploaded":           {`{"mediaId":7,"storageKey":"incoming/7.jpg"}`, "media-7", ""},
	"SitemapRebuildRequested": {`{}`, "evt-e1", "rebuild-sitemap"},
	"ReviewCreated":           {`{"reviewId":11,"salonId":3}`, "evt-e1", "review-agg-3"},
	"SalonChanged":            {`{"salonId":3,"cityId":2}`, "evt-e1", "city-stats-2"},
	"VerificationApproved":    {`{"entityType":"salon","entityId":3}`, "evt-e1", ""},
	"OTPRequested":            {`{"challengeId":"0123456789abcdef0123456789abcdef"}`, "otp-0123456789abcdef0123456789abcdef", ""},
}

func TestEveryModuleRouteIsComplete(t *testing.T) {
	t.Parallel()
	routes, err := app.Routes()
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != len(samplePayloads) {
		t.Fatalf("%d routes, want %d (one per event type)", len(routes), len(samplePayloads))
	}
	for typ, r := range routes {
		if r.Event != typ || r.Job == "" || !slices.Contains(queues.Queues, r.Queue) || !slices.Contains(app.Modules(), r.Module) {
			t.Errorf("route %+v: bad event, job, queue or module", r)
		}
		p, ok := samplePayloads[typ]
		if !ok {
			t.Errorf("no sample payload for %s", typ)
			continue
		}
		data, opts, err := r.Build(outbox.Event{ID: "e1", Type: typ, Payload: json.RawMessage(p.payload), Mode: rollout.Async})
		if err != nil {
			t.Errorf("build %s: %v", typ, err)
			continue
		}
		if opts.JobID != p.jobID || strings.Contains(opts.JobID, ":") {
			t.Errorf("%s: job id %q, want %q", typ, opts.JobID, p.jobID)
		}
		var dedup string
		if opts.Deduplication != nil {
			dedup = opts.Deduplication.ID
		}
		if dedup != p.dedup {
			t.Errorf("%s: dedup id %q, want %q", typ, dedup, p.dedup)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil || m["mode"] != "async" || m["eventId"] != "e1" {
			t.Errorf("%s: data %s (%v)", typ, data, err)
		}
	}
}

func TestModulesAreTheRolloutSettings(t *testing.T) {
	t.Parallel()
	want := []rollout.Module{"media", "sitemap", "reviews", "geo", "views", "sms"}
	if got := app.Modules(); !slices.Equal(got, want) {
		t.Fatalf("Modules() = %v, want %v", got, want)
	}
}
