// Package storage keeps media files behind a small interface with two
// implementations: Local (a directory; the default) and S3 (any
// S3-compatible object store, through the AWS SDK for Go v2).
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// ErrInvalidKey reports a key that is not a clean relative path of
// [A-Za-z0-9._-] segments: empty, absolute, with "..", ".", empty segments,
// backslashes or other characters.
var ErrInvalidKey = errors.New("invalid storage key")

// ErrNotExist reports a missing object. It is fs.ErrNotExist, so
// errors.Is(err, fs.ErrNotExist) holds too.
var ErrNotExist = fs.ErrNotExist

// CacheControl is sent with every public media object: keys are
// content-addressed by media id and width, so an object never changes.
const CacheControl = "public, max-age=31536000, immutable"

// Storage stores objects by key. Keys are slash-separated relative paths
// (see ValidKey). Implementations are safe for concurrent use.
type Storage interface {
	// Put stores r under key, replacing any existing object atomically:
	// readers see the old object or the new one, never a partial one.
	Put(ctx context.Context, key string, r io.Reader, contentType string) error
	// Open returns the object's content; a missing key is ErrNotExist.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, in no particular order.
	List(ctx context.Context, prefix string) ([]string, error)
	// URL returns the public URL of key.
	URL(key string) string
}

// maxKeyLen bounds keys well under S3's 1024-byte limit.
const maxKeyLen = 512

// ValidKey returns nil for a clean relative key and an error wrapping
// ErrInvalidKey otherwise.
func ValidKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("%w: length %d", ErrInvalidKey, len(key))
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q has an empty, . or .. segment", ErrInvalidKey, key)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("%w: %q contains %q", ErrInvalidKey, key, c)
			}
		}
	}
	return nil
}

// validPrefix accepts "" or a key followed by an optional trailing slash.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidKey(strings.TrimSuffix(prefix, "/"))
}

// ContentType returns the MIME type served for key, by extension.
func ContentType(key string) string {
	switch key[strings.LastIndexByte(key, '.')+1:] {
	case "jpg", "jpeg":
		return "image/jpeg"
	case "webp":
		return "image/webp"
	case "avif":
		return "image/avif"
	case "png":
		return "image/png"
	case "gif":
		return "image/gif"
	case "heic":
		return "image/heic"
	}
	return "application/octet-stream"
}
