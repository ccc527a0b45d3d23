package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Spec
		err  bool
	}{
		{"", Spec{}, false},
		{"  /var/lib/atlas/media/ ", Spec{Dir: "/var/lib/atlas/media"}, false},
		{"rel/dir", Spec{Dir: "rel/dir"}, false},
		{"s3://atlas-media", Spec{Bucket: "atlas-media"}, false},
		{"S3://atlas.media/prod/uploads/", Spec{Bucket: "atlas.media", Prefix: "prod/uploads"}, false},
		{"s3://ab", Spec{}, true},
		{"s3://Atlas", Spec{}, true},
		{"s3://-atlas", Spec{}, true},
		{"s3://a..b", Spec{}, true},
		{"s3://192.168.1.10", Spec{}, true},
		{"s3://atlas/../etc", Spec{}, true},
		{"s3://atlas/a b", Spec{}, true},
		{"s3://user@atlas", Spec{}, true},
		{"s3://atlas:9000/x", Spec{}, true},
		{"s3://atlas/x?versionId=1", Spec{}, true},
		{"gs://atlas", Spec{}, true},
		{"file:///tmp/x", Spec{}, true},
		{"dir\x00x", Spec{}, true},
	}
	for _, tc := range tests {
		got, err := ParseSpec(tc.in)
		if tc.err {
			if !errors.Is(err, ErrSpec) {
				t.Errorf("ParseSpec(%q) = %+v, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"", "/data/media", "s3://atlas-media/prod", "s3://a.b-c/x/y/", "S3://x", "http://h/b", "s3://", "s3:///x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		spec, err := ParseSpec(in)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v does not wrap ErrSpec", err)
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
		if spec.Prefix != "" && ValidKey(spec.Prefix) != nil {
			t.Fatalf("%q: invalid prefix %q accepted", in, spec.Prefix)
		}
		again, err := ParseSpec(spec.String())
		if err != nil || again != spec {
			t.Fatalf("%q → %+v → %q → %+v, %v: not a round trip", in, spec, spec.String(), again, err)
		}
	})
}
