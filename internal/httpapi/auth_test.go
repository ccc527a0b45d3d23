package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/review"
)

// fakeSessions knows "user-7" (user 7) and "admin-8" (admin user 8);
// "broken" fails the lookup.
type fakeSessions struct{}

func (fakeSessions) LookupSession(_ context.Context, token string) (auth.Identity, error) {
	switch token {
	case "user-7":
		return auth.Identity{UserID: 7}, nil
	case "admin-8":
		return auth.Identity{UserID: 8, Admin: true}, nil
	case "broken":
		return auth.Identity{}, errors.New("session store is down")
	}
	return auth.Identity{}, fmt.Errorf("no session: %w", auth.ErrUnauthenticated)
}

// TestUserSessions: with Deps.Sessions, a user session acts as its own user
// (no system user needed), reaches admin routes only as an admin, and a
// failing lookup is a 500, not a 401.
func TestUserSessions(t *testing.T) {
	t.Parallel()
	fr := &fakeReviews{}
	h, err := NewHandler(Deps{Store: &fakeStore{}, Registry: prometheus.NewRegistry(), AdminToken: "tok", Reviews: fr, Sessions: fakeSessions{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, bearer string
		status       int
		userID       int64
	}{
		{"user session", "user-7", 201, 7},
		{"admin's session", "admin-8", 201, 8},
		{"admin token without Users", "tok", 401, 0},
		{"unknown session", "nope", 401, 0},
		{"lookup fails", "broken", 500, 0},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("POST", "/api/v1/salons/rose/reviews", strings.NewReader(`{"rating":5}`))
		req.Header.Set("Authorization", "Bearer "+tc.bearer)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		if tc.status == 201 {
			var rv review.Review
			if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil || rv.UserID != tc.userID {
				t.Errorf("%s: body %s, want user %d", tc.name, rec.Body, tc.userID)
			}
		}
	}

	// Public routes ignore credentials that do not authenticate.
	req := httptest.NewRequest("GET", "/api/v1/cities", nil)
	req.Header.Set("Authorization", "Bearer nope")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("public route with an unknown token: %d", rec.Code)
	}
}

func TestRequireAdminSessions(t *testing.T) {
	t.Parallel()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := authenticate(nil, auth.New(auth.Config{AdminToken: "s3cret", Sessions: fakeSessions{}}), newAuthGuard(Deps{Now: time.Now}), requireAdmin(nil, next))
	for bearer, want := range map[string]int{"s3cret": 204, "admin-8": 204, "user-7": 401, "nope": 401} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/v1/admin/x", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("bearer %q: %d, want %d", bearer, rec.Code, want)
		}
		if want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("bearer %q: 401 without a challenge", bearer)
		}
	}
}
