package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/salon"
	"github.com/sevra/atlas/internal/seo"
	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
)

type fakeOTP struct{}

func (fakeOTP) Request(context.Context, string, string) (otp.Challenge, error) {
	return otp.Challenge{ID: "c1"}, nil
}
func (fakeOTP) Verify(context.Context, string, string, string) (otp.Login, error) {
	return otp.Login{Token: "t", UserID: 1}, nil
}

type fakeSEO struct{}

func (fakeSEO) RequestRebuild(context.Context) (seo.RebuildResult, error) {
	return seo.RebuildResult{}, nil
}
func (fakeSEO) Publisher() *sitemap.Publisher { return nil }
func (fakeSEO) BaseURL() sitemap.BaseURL      { return sitemap.BaseURL{} }

type fakeSalons struct{}

func (fakeSalons) Approve(context.Context, int64, int64) (salon.Approval, error) {
	return salon.Approval{}, nil
}
func (fakeSalons) Update(_ context.Context, slug string, _ salon.Patch) (store.Salon, error) {
	return store.Salon{ID: 1, Slug: slug}, nil
}

// TestJSONBodies: every JSON endpoint answers the same way to the same
// envelope mistakes: 413 too large, 415 wrong Content-Type, 400 for a
// duplicate key, a NUL in a string, invalid UTF-8 or trailing data.
func TestJSONBodies(t *testing.T) {
	t.Parallel()
	h, err := NewHandler(Deps{Store: &fakeStore{}, Registry: prometheus.NewRegistry(), AdminToken: "tok",
		Reviews: &fakeReviews{}, Users: fakeUsers{}, OTP: fakeOTP{},
		SEO: &SEODeps{Service: fakeSEO{}, Salons: fakeSalons{}}})
	if err != nil {
		t.Fatal(err)
	}
	endpoints := []struct {
		method, path, good, key string
		limit                   int
	}{
		{"POST", "/api/v1/auth/otp/request", `{"phone":"09121234567"}`, "phone", 4 << 10},
		{"POST", "/api/v1/auth/otp/verify", `{"challenge_id":"c1","code":"123456"}`, "code", 4 << 10},
		{"POST", "/api/v1/salons/rose/reviews", `{"rating":5,"body":"nice"}`, "body", review.MaxRequestBytes},
		{"PATCH", "/api/v1/salons/rose", `{"name":"Rose"}`, "name", salon.MaxPatchBytes},
	}
	for _, ep := range endpoints {
		big := `{"` + ep.key + `":"` + strings.Repeat("x", ep.limit) + `"}`
		cases := []struct {
			name, ctype, body string
			status            int
			code              string
		}{
			{"good", "application/json", ep.good, 0, ""},
			{"good, charset", "application/json; charset=utf-8", ep.good, 0, ""},
			{"text/plain", "text/plain", ep.good, 415, "unsupported_media_type"},
			{"form", "application/x-www-form-urlencoded", ep.good, 415, "unsupported_media_type"},
			{"too large", "application/json", big, 413, "body_too_large"},
			{"duplicate key", "application/json", `{"` + ep.key + `":"a",` + ep.good[1:], 400, "invalid_json"},
			{"nested duplicate", "application/json", `{"x":{"a":1,"a":2}}`, 400, "invalid_json"},
			{"NUL", "application/json", `{"` + ep.key + `":"a\u0000b"}`, 400, "invalid_json"},
			{"invalid UTF-8", "application/json", "{\"" + ep.key + "\":\"a\xffb\"}", 400, "invalid_json"},
			{"two objects", "application/json", ep.good + ep.good, 400, "invalid_json"},
			{"array", "application/json", `[` + ep.good + `]`, 400, "invalid_json"},
		}
		for _, tc := range cases {
			req := httptest.NewRequest(ep.method, ep.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			req.Header.Set("Authorization", "Bearer tok")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tc.status == 0 {
				if rec.Code >= 300 {
					t.Errorf("%s %s: %d %s, want success", ep.path, tc.name, rec.Code, rec.Body)
				}
				continue
			}
			var body errorBody
			if rec.Code != tc.status || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code != tc.code {
				t.Errorf("%s %s: %d %s, want %d %s", ep.path, tc.name, rec.Code, rec.Body, tc.status, tc.code)
			}
		}
	}
}

func TestCheckJSONObject(t *testing.T) {
	t.Parallel()
	good := []string{`{}`, ` {"a":1} `, `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, `{"a":[1,"x",{"b":null}],"c":"\u0001"}`}
	for _, s := range good {
		if err := checkJSONObject([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{``, `1`, `"x"`, `[]`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":1}}`, `{"a":[{"b":1,"b":2}]}`,
		`{"a":"\u0000"}`, `{"\u0000":1}`, `{} {}`, `{}x`, `{"a":1`, "{\"a\":\"\xc3\"}"}
	for _, s := range bad {
		if err := checkJSONObject([]byte(s)); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
}

func FuzzCheckJSONObject(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,2]},"c":"d"}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkJSONObject(data) != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", data, err)
		}
	})
}
