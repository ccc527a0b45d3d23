package cli

import (
	"errors"
	"testing"
)

func TestMediaSettings(t *testing.T) {
	t.Parallel()
	var c Config
	_, err := parseSettings("run", c.runSettings(), []string{"--media-max-bytes", "5MB", "--media-widths", "100, 200"},
		mapEnv(map[string]string{"ATLAS_MEDIA_MAX_PIXELS": "12MP", "ATLAS_STORAGE": "s3://atlas-media/p"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Media.MaxBytes != 5_000_000 || c.Media.MaxPixels != 12_000_000 || len(c.Media.Widths) != 2 || c.Media.Widths[1] != 200 || c.Storage.String() != "s3://atlas-media/p" {
		t.Fatalf("media config %+v, storage %q", c.Media, c.Storage)
	}
	var d Config
	if _, err := parseSettings("worker", d.workerSettings(), nil, mapEnv(nil)); err != nil {
		t.Fatal(err)
	}
	if d.Media.MaxBytes != 20<<20 || d.Media.MaxPixels != 0 || len(d.Media.Widths) != 5 { // 0: the engine's default (50 MP libvips, 16 MP pure)
		t.Fatalf("defaults %+v", d.Media)
	}
	for _, bad := range [][]string{{"--media-max-bytes", "0"}, {"--media-max-bytes", "1TB"}, {"--media-widths", "320,320"},
		{"--media-widths", "0"}, {"--media-max-pixels", "-1"}, {"--storage", "gs://x"}} {
		var e Config
		if _, err := parseSettings("run", e.runSettings(), bad, mapEnv(nil)); !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want a usage error", bad, err)
		}
	}
}
