package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Spec is a parsed storage location (ATLAS_STORAGE): a local directory, or an S3
// bucket with an optional key prefix.
type Spec struct {
	// Dir is the local directory ("" with S3, or for the default).
	Dir string
	// Bucket and Prefix are set for s3://bucket/prefix.
	Bucket, Prefix string
}

// S3 reports whether the spec names a bucket.
func (s Spec) S3() bool { return s.Bucket != "" }

// String renders the spec so that ParseSpec reads it back.
func (s Spec) String() string {
	if s.S3() {
		if s.Prefix == "" {
			return "s3://" + s.Bucket
		}
		return "s3://" + s.Bucket + "/" + s.Prefix
	}
	return s.Dir
}

// ErrSpec reports a storage value that is neither a directory
// nor s3://bucket[/prefix].
var ErrSpec = errors.New("invalid storage")

// ParseSpec reads ATLAS_STORAGE: "" (the default, <data-dir>/media), a
// directory path, or "s3://bucket" / "s3://bucket/key/prefix". Bucket names
// follow S3's rules (3–63 characters of a–z, 0–9, '.', '-', starting and
// ending with a letter or digit); the prefix is a storage key (segments of
// [A-Za-z0-9._-]). Other URL schemes, and user info, ports, queries or
// fragments in an s3 URL, are refused.
func ParseSpec(raw string) (Spec, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return Spec{}, nil
	}
	if strings.ContainsRune(v, 0) {
		return Spec{}, fmt.Errorf("%w: NUL in %.64q", ErrSpec, raw)
	}
	scheme, rest, isURL := strings.Cut(v, "://")
	if !isURL {
		return Spec{Dir: filepath.Clean(v)}, nil
	}
	if !strings.EqualFold(scheme, "s3") {
		return Spec{}, fmt.Errorf("%w: %.64q: want a directory or s3://bucket/prefix", ErrSpec, raw)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := validBucket(bucket); err != nil {
		return Spec{}, fmt.Errorf("%w: %.64q: %w", ErrSpec, raw, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return Spec{}, fmt.Errorf("%w: %.64q: prefix: %w", ErrSpec, raw, err)
		}
	}
	return Spec{Bucket: bucket, Prefix: prefix}, nil
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
