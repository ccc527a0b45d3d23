package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sevra/atlas/internal/media/storage"
)

// storageSpec is a parsed ATLAS_STORAGE: a local directory, or an S3
// bucket with an optional key prefix.
type storageSpec struct {
	// Dir is the local directory ("" with S3, or for the default).
	Dir string
	// Bucket and Prefix are set for s3://bucket/prefix.
	Bucket, Prefix string
}

// S3 reports whether the spec names a bucket.
func (s storageSpec) S3() bool { return s.Bucket != "" }

// String renders the spec so that parseStorage reads it back.
func (s storageSpec) String() string {
	if s.S3() {
		if s.Prefix == "" {
			return "s3://" + s.Bucket
		}
		return "s3://" + s.Bucket + "/" + s.Prefix
	}
	return s.Dir
}

// errStorage reports an ATLAS_STORAGE value that is neither a directory
// nor s3://bucket[/prefix].
var errStorage = errors.New("invalid storage")

// parseStorage reads ATLAS_STORAGE: "" (the default, <data-dir>/media), a
// directory path, or "s3://bucket" / "s3://bucket/key/prefix". Bucket names
// follow S3's rules (3–63 characters of a–z, 0–9, '.', '-', starting and
// ending with a letter or digit); the prefix is a storage key (segments of
// [A-Za-z0-9._-]). Other URL schemes, and user info, ports, queries or
// fragments in an s3 URL, are refused.
func parseStorage(raw string) (storageSpec, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return storageSpec{}, nil
	}
	if strings.ContainsRune(v, 0) {
		return storageSpec{}, fmt.Errorf("%w: NUL in %.64q", errStorage, raw)
	}
	scheme, rest, isURL := strings.Cut(v, "://")
	if !isURL {
		return storageSpec{Dir: filepath.Clean(v)}, nil
	}
	if !strings.EqualFold(scheme, "s3") {
		return storageSpec{}, fmt.Errorf("%w: %.64q: want a directory or s3://bucket/prefix", errStorage, raw)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := validBucket(bucket); err != nil {
		return storageSpec{}, fmt.Errorf("%w: %.64q: %w", errStorage, raw, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := storage.ValidKey(prefix); err != nil {
			return storageSpec{}, fmt.Errorf("%w: %.64q: prefix: %w", errStorage, raw, err)
		}
	}
	return storageSpec{Bucket: bucket, Prefix: prefix}, nil
}

// validBucket applies S3's bucket naming rules (the subset that matters
// for parsing: length, characters, ends, no "..", not an IP address).
func validBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %.64q must be 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("bucket name %q may hold only a-z, 0-9, '.' and '-'", b)
		}
	}
	if !alnum(b[0]) || !alnum(b[len(b)-1]) || strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q must start and end with a letter or digit, without \"..\"", b)
	}
	if parts := strings.Split(b, "."); len(parts) == 4 && allDigits(parts) {
		return fmt.Errorf("bucket name %q must not look like an IP address", b)
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func allDigits(ps []string) bool {
	for _, p := range ps {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// parseByteSize reads a size: bytes ("20971520"), or a number with KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024); case-insensitive.
func parseByteSize(s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size such as 20MiB, 20MB or 20971520", s)
	}
	return n * mult, nil
}

// parsePixels reads a pixel count: "50000000" or "50MP".
func parsePixels(s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	if n, ok := strings.CutSuffix(v, "mp"); ok {
		v, mult = strings.TrimSpace(n), 1_000_000
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a pixel count such as 50MP or 50000000", s)
	}
	return n * mult, nil
}

// parseWidths reads "320,640,960": positive widths up to 10000, each once.
func parseWidths(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		w, err := strconv.Atoi(f)
		if err != nil || w <= 0 || w > 10_000 {
			return nil, fmt.Errorf("width %q: want whole pixels from 1 to 10000", f)
		}
		for _, x := range out {
			if x == w {
				return nil, fmt.Errorf("width %d is listed twice", w)
			}
		}
		out = append(out, w)
	}
	return out, nil
}
