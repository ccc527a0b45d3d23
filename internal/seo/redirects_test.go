package seo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
)

func TestPostSlugHistory(t *testing.T) {
	t.Parallel()
	eachDialect(t, testPostSlugHistory)
}

func testPostSlugHistory(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r := NewRedirects(s)
	now := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	// best-salons-tehran -> v2 -> v3 -> back to v2: chains collapse and
	// renaming back never loops.
	for _, slug := range []string{"best-salons-tehran-v2", "best-salons-tehran-v3", "best-salons-tehran-v2"} {
		if err := r.RenamePost(ctx, 1, slug, now); err != nil {
			t.Fatalf("RenamePost(%s): %v", slug, err)
		}
	}
	tests := []struct {
		slug, want string
		moved      bool
		err        error
	}{
		{"best-salons-tehran-v2", "best-salons-tehran-v2", false, nil},
		{"best-salons-tehran", "best-salons-tehran-v2", true, nil},
		{"best-salons-tehran-v3", "best-salons-tehran-v2", true, nil},
		{"edited-after", "edited-after", false, nil},
		{"never-existed", "", false, store.ErrNotFound},
	}
	for _, tc := range tests {
		got, moved, err := r.ResolvePostSlug(ctx, tc.slug)
		if !errors.Is(err, tc.err) || got != tc.want || moved != tc.moved {
			t.Errorf("ResolvePostSlug(%s) = %q, %v, %v; want %q, %v, %v", tc.slug, got, moved, err, tc.want, tc.moved, tc.err)
		}
	}
	var updated time.Time
	if err := s.DB().QueryRowContext(ctx, "SELECT updated_at FROM posts WHERE id = 1").Scan(&updated); err != nil || !updated.Equal(now) {
		t.Errorf("updated_at = %v, %v; want %v (a rename is a significant change)", updated, err, now)
	}
}

func TestRenamePostErrors(t *testing.T) {
	t.Parallel()
	eachDialect(t, testRenamePostErrors)
}

func testRenamePostErrors(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r := NewRedirects(s)
	tests := []struct {
		name string
		id   int64
		slug string
		err  error
	}{
		{"unknown post", 99, "x", store.ErrNotFound},
		{"empty slug", 1, "", ErrBadSlug},
		{"slash", 1, "a/b", ErrBadSlug},
		{"dot dot", 1, "..", ErrBadSlug},
		{"NUL", 1, "a\x00b", ErrBadSlug},
		{"upper case", 1, "Post", ErrBadSlug},
		{"html", 1, "a<script>", ErrBadSlug},
		{"rtl override", 1, "a\u202eb", ErrBadSlug},
		{"invalid utf-8", 1, "a\xffb", ErrBadSlug},
	}
	for _, tc := range tests {
		if err := r.RenamePost(ctx, tc.id, tc.slug, fixedNow); !errors.Is(err, tc.err) {
			t.Errorf("%s: RenamePost = %v, want %v", tc.name, err, tc.err)
		}
	}
	// Taking another post's slug fails and changes nothing: the history row
	// and the rename roll back together.
	if err := r.RenamePost(ctx, 1, "edited-after", fixedNow); err == nil {
		t.Fatal("renaming onto a taken slug: want an error")
	}
	if got, moved, err := r.ResolvePostSlug(ctx, "best-salons-tehran"); err != nil || moved || got != "best-salons-tehran" {
		t.Errorf("after a failed rename: %q, %v, %v; want the old slug, still current", got, moved, err)
	}
}
