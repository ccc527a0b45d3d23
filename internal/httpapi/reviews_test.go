package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/tracing"
)

type fakeReviews struct {
	got   review.Input
	trace string
}

func (f *fakeReviews) Create(ctx context.Context, slug string, userID int64, in review.Input) (review.Review, error) {
	if slug != "rose" {
		return review.Review{}, store.ErrNotFound
	}
	f.got, f.trace = in, tracing.Traceparent(ctx)
	return review.Review{ID: 1, SalonID: 10, UserID: userID, Rating: in.Rating, Body: in.Body, Status: "published"}, nil
}

type fakeUsers struct{}

func (fakeUsers) SystemUserID(context.Context) (int64, error) { return 99, nil }

func TestCreateReviewRoute(t *testing.T) {
	t.Parallel()
	fr := &fakeReviews{}
	h, err := NewHandler(Deps{Store: &fakeStore{}, Registry: prometheus.NewRegistry(), AdminToken: "tok", Reviews: fr, Users: fakeUsers{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, slug, auth, body string
		status                 int
		code                   string
	}{
		{"created", "rose", "Bearer tok", `{"rating":5,"body":"nice"}`, 201, ""},
		{"no token", "rose", "", `{"rating":5}`, 401, "unauthorized"},
		{"wrong token", "rose", "Bearer nope", `{"rating":5}`, 401, "unauthorized"},
		{"bad rating", "rose", "Bearer tok", `{"rating":9}`, 400, "invalid_rating"},
		{"bad json", "rose", "Bearer tok", `{`, 400, "invalid_json"},
		{"too large", "rose", "Bearer tok", `{"rating":5,"body":"` + strings.Repeat("x", review.MaxRequestBytes) + `"}`, 413, "body_too_large"},
		{"unknown salon", "nope", "Bearer tok", `{"rating":5}`, 404, "not_found"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("POST", "/api/v1/salons/"+tc.slug+"/reviews", strings.NewReader(tc.body))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		if tc.code != "" {
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != tc.code {
				t.Errorf("%s: body %s, want code %s", tc.name, rec.Body, tc.code)
			}
			continue
		}
		var rv review.Review
		if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil || rv.UserID != 99 || rv.Rating != 5 || fr.got.Body != "nice" {
			t.Errorf("%s: body %s (%v)", tc.name, rec.Body, err)
		}
	}
}

func TestTraceHeaders(t *testing.T) {
	t.Parallel()
	fr := &fakeReviews{}
	h, err := NewHandler(Deps{Store: &fakeStore{}, Registry: prometheus.NewRegistry(), AdminToken: "tok", Reviews: fr, Users: fakeUsers{}})
	if err != nil {
		t.Fatal(err)
	}
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name, traceparent, requestID string
		wantTrace, wantRequestID     string
	}{
		{"traceparent continued", incoming, "", "4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"request id kept", "", "abc-123", "", "abc-123"},
		{"uuid request id is the trace", "", "0af76519-16cd-43dd-8448-eb211c80319c", "0af7651916cd43dd8448eb211c80319c", "0af76519-16cd-43dd-8448-eb211c80319c"},
		{"garbage traceparent replaced", "00-zz", "", "", ""},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("POST", "/api/v1/salons/rose/reviews", strings.NewReader(`{"rating":4}`))
		req.Header.Set("Authorization", "Bearer tok")
		if tc.traceparent != "" {
			req.Header.Set("traceparent", tc.traceparent)
		}
		if tc.requestID != "" {
			req.Header.Set("X-Request-ID", tc.requestID)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out, err := tracing.Parse(rec.Header().Get("traceparent"))
		if err != nil || rec.Code != http.StatusCreated {
			t.Fatalf("%s: status %d, traceparent %q: %v", tc.name, rec.Code, rec.Header().Get("traceparent"), err)
		}
		if tc.wantTrace != "" && out.TraceIDString() != tc.wantTrace {
			t.Errorf("%s: trace %s, want %s", tc.name, out.TraceIDString(), tc.wantTrace)
		}
		if tc.traceparent == incoming && out.String() == incoming {
			t.Errorf("%s: span id not renewed", tc.name)
		}
		rid := rec.Header().Get("X-Request-ID")
		if tc.wantRequestID != "" && rid != tc.wantRequestID {
			t.Errorf("%s: X-Request-ID %q, want %q", tc.name, rid, tc.wantRequestID)
		}
		if fr.trace != out.String() {
			t.Errorf("%s: handler saw trace %q, response says %q", tc.name, fr.trace, out)
		}
	}
}
