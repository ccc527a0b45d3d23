package httpapi

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/store"
)

// fakePostSlugs maps old post slugs: "old-p" to the published post "p",
// "old-draft" to "draft", which fakeStore does not serve (a draft).
type fakePostSlugs struct{}

func (fakePostSlugs) ResolvePostSlug(_ context.Context, slug string) (string, bool, error) {
	switch slug {
	case "old-p":
		return "p", true, nil
	case "old-draft":
		return "draft", true, nil
	}
	return "", false, store.ErrNotFound
}

// TestPostRedirects: an old slug of a published post answers 301 (not
// 302: search engines must move the page's rank) to the current slug,
// keeping the query; an old slug whose post is a draft is 404, never a
// redirect to a page that does not answer.
func TestPostRedirects(t *testing.T) {
	t.Parallel()
	h, err := NewHandler(Deps{Store: &fakeStore{}, Registry: prometheus.NewRegistry(), SEO: &SEODeps{Posts: fakePostSlugs{}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		status   int
		location string
	}{
		{"/api/v1/posts/old-p", 301, "/api/v1/posts/p"},
		{"/api/v1/posts/old-p?utm=x", 301, "/api/v1/posts/p?utm=x"},
		{"/api/v1/posts/p", 200, ""},
		{"/api/v1/posts/old-draft", 404, ""},
		{"/api/v1/posts/unknown", 404, ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("GET %s: %d Location %q, want %d %q", tc.path, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
	}
}
