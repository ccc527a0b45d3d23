package sitemap

import (
	"context"
	"testing"
)

func TestFingerprintOfTwoBuildsOfTheSameData(t *testing.T) {
	t.Parallel()
	b := newFixtureBuilder(t, Config{})
	ctx := context.Background()
	if _, err := b.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	live, err := b.Publisher().Live()
	if err != nil {
		t.Fatal(err)
	}
	_, side, err := b.BuildSide(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := FingerprintDir(live.Dir, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FingerprintDir(side.Dir(), side.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(c) || a.URLs != 10 || len(a.Files) != 4 {
		t.Fatalf("fingerprints differ or are wrong:\nlive %+v\nside %+v", a, c)
	}
	if l, _ := b.Publisher().Live(); l.ID != live.ID {
		t.Fatal("BuildSide published")
	}
	if err := side.Abort(); err != nil {
		t.Fatal(err)
	}
	for _, id := range genDirs(t, b.Publisher()) {
		if id == side.ID() {
			t.Fatal("side generation left on disk after Abort")
		}
	}
}
