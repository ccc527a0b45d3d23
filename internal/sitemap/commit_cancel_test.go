package sitemap

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCommitWithCancelledContextKeepsOldLive calls Commit directly with a
// context cancelled after every child was written (the case "after every
// child, before the switch", which a cancelled Rebuild never reaches): the
// index is written, but the live pointer does not move, the old sitemap
// stays live, and Abort removes the unpublished generation.
func TestCommitWithCancelledContextKeepsOldLive(t *testing.T) {
	t.Parallel()
	pub := newTestPublisher(t, t.TempDir())
	writeIndex := func(w io.Writer) error { _, err := io.WriteString(w, "<sitemapindex/>"); return err }
	old, err := pub.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Commit(context.Background(), writeIndex); err != nil {
		t.Fatal(err)
	}
	g, err := pub.Begin()
	if err != nil {
		t.Fatal(err)
	}
	f, err := g.Create("sitemap-salons-1.xml.gz")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "child")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Commit(ctx, writeIndex); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context = %v, want context.Canceled", err)
	}
	if live, err := pub.Live(); err != nil || live.ID != old.ID() {
		t.Fatalf("live = %+v, %v; want the old generation %s", live, err, old.ID())
	}
	if _, err := os.Stat(filepath.Join(g.Dir(), IndexFile)); err != nil {
		t.Errorf("the cancelled generation has no index (Commit stopped before writing it): %v", err)
	}
	if err := g.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := genDirs(t, pub); !slices.Equal(got, []string{old.ID()}) {
		t.Errorf("generations on disk = %v, want only the live one", got)
	}
	// A later Commit of a fresh generation still works.
	next, err := pub.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Commit(context.Background(), writeIndex); err != nil {
		t.Fatal(err)
	}
	if live, err := pub.Live(); err != nil || live.ID != next.ID() {
		t.Errorf("live = %+v, %v; want %s", live, err, next.ID())
	}
}
