package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/media/storage"
)

func TestParseStorage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want storageSpec
		err  bool
	}{
		{"", storageSpec{}, false},
		{"  /var/lib/atlas/media/ ", storageSpec{Dir: "/var/lib/atlas/media"}, false},
		{"rel/dir", storageSpec{Dir: "rel/dir"}, false},
		{"s3://atlas-media", storageSpec{Bucket: "atlas-media"}, false},
		{"S3://atlas.media/prod/uploads/", storageSpec{Bucket: "atlas.media", Prefix: "prod/uploads"}, false},
		{"s3://ab", storageSpec{}, true},
		{"s3://Atlas", storageSpec{}, true},
		{"s3://-atlas", storageSpec{}, true},
		{"s3://a..b", storageSpec{}, true},
		{"s3://192.168.1.10", storageSpec{}, true},
		{"s3://atlas/../etc", storageSpec{}, true},
		{"s3://atlas/a b", storageSpec{}, true},
		{"s3://user@atlas", storageSpec{}, true},
		{"s3://atlas:9000/x", storageSpec{}, true},
		{"s3://atlas/x?versionId=1", storageSpec{}, true},
		{"gs://atlas", storageSpec{}, true},
		{"file:///tmp/x", storageSpec{}, true},
		{"dir\x00x", storageSpec{}, true},
	}
	for _, tc := range tests {
		got, err := parseStorage(tc.in)
		if tc.err {
			if !errors.Is(err, errStorage) {
				t.Errorf("parseStorage(%q) = %+v, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseStorage(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseStorage(f *testing.F) {
	for _, s := range []string{"", "/data/media", "s3://atlas-media/prod", "s3://a.b-c/x/y/", "S3://x", "http://h/b", "s3://", "s3:///x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		spec, err := parseStorage(in)
		if err != nil {
			if !errors.Is(err, errStorage) {
				t.Fatalf("error %v does not wrap errStorage", err)
			}
			return
		}
		if !spec.S3() {
			if strings.Contains(spec.Dir, "://") || strings.ContainsRune(spec.Dir, 0) {
				t.Fatalf("%q accepted as directory %q", in, spec.Dir)
			}
			return
		}
		if validBucket(spec.Bucket) != nil {
			t.Fatalf("%q: invalid bucket %q accepted", in, spec.Bucket)
		}
		if spec.Prefix != "" && storage.ValidKey(spec.Prefix) != nil {
			t.Fatalf("%q: invalid prefix %q accepted", in, spec.Prefix)
		}
		again, err := parseStorage(spec.String())
		if err != nil || again != spec {
			t.Fatalf("%q → %+v → %q → %+v, %v: not a round trip", in, spec, spec.String(), again, err)
		}
	})
}

func TestMediaSettings(t *testing.T) {
	t.Parallel()
	var c Config
	_, err := parseSettings("run", c.runSettings(), []string{"--media-max-bytes", "5MB", "--media-widths", "100, 200"},
		mapEnv(map[string]string{"ATLAS_MEDIA_MAX_PIXELS": "12MP", "ATLAS_STORAGE": "s3://atlas-media/p"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Media.MaxBytes != 5_000_000 || c.Media.MaxPixels != 12_000_000 || len(c.Media.Widths) != 2 || c.Media.Widths[1] != 200 || c.Storage != "s3://atlas-media/p" {
		t.Fatalf("media config %+v, storage %q", c.Media, c.Storage)
	}
	var d Config
	if _, err := parseSettings("worker", d.workerSettings(), nil, mapEnv(nil)); err != nil {
		t.Fatal(err)
	}
	if d.Media.MaxBytes != 20<<20 || d.Media.MaxPixels != 50_000_000 || len(d.Media.Widths) != 5 {
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
