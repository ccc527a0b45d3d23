package sitemap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrBaseURL is returned for a base URL that cannot prefix absolute
// sitemap URLs.
var ErrBaseURL = errors.New("invalid base URL")

// maxLocLen is the longest URL the sitemap protocol accepts.
const maxLocLen = 2048

// BaseURL is a validated absolute http(s) URL without a trailing slash,
// query or fragment, such as "https://atlas.example" or
// "https://atlas.example/fa".
type BaseURL struct{ s string }

// ParseBaseURL validates raw as the public origin (plus optional path
// prefix) that every sitemap URL starts with.
func ParseBaseURL(raw string) (BaseURL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return BaseURL{}, fmt.Errorf("%w: %w", ErrBaseURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return BaseURL{}, fmt.Errorf("%w: %q: scheme must be http or https", ErrBaseURL, raw)
	case u.Host == "" || u.Hostname() == "":
		return BaseURL{}, fmt.Errorf("%w: %q: no host", ErrBaseURL, raw)
	case u.User != nil:
		return BaseURL{}, fmt.Errorf("%w: %q: user info is not allowed", ErrBaseURL, raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return BaseURL{}, fmt.Errorf("%w: %q: query and fragment are not allowed", ErrBaseURL, raw)
	case u.Opaque != "":
		return BaseURL{}, fmt.Errorf("%w: %q: not a hierarchical URL", ErrBaseURL, raw)
	}
	u.Host = strings.ToLower(u.Host)
	u.Scheme = strings.ToLower(u.Scheme)
	s := strings.TrimRight(u.String(), "/")
	if len(s) > maxLocLen/2 {
		return BaseURL{}, fmt.Errorf("%w: %q: longer than %d bytes", ErrBaseURL, raw, maxLocLen/2)
	}
	return BaseURL{s: s}, nil
}

// String returns the base URL without a trailing slash.
func (b BaseURL) String() string { return b.s }

// IsZero reports whether b was never set.
func (b BaseURL) IsZero() bool { return b.s == "" }

// Join returns the base URL followed by the path segments, each
// percent-escaped, so "/salons" and "my slug" give "<base>/salons/my%20slug".
// Segments may not smuggle in a slash or a dot segment.
func (b BaseURL) Join(segments ...string) string {
	n := len(b.s)
	for _, s := range segments {
		n += 1 + len(s)
	}
	var sb strings.Builder
	sb.Grow(n + n/8) // room for a few percent escapes: one allocation
	sb.WriteString(b.s)
	for _, s := range segments {
		sb.WriteByte('/')
		sb.WriteString(escapeSegment(s))
	}
	return sb.String()
}

// JoinKey returns the base URL followed by prefix and a slash-separated
// storage key whose segments are percent-escaped one by one, for media
// URLs such as "<base>/media/salons/12/large.webp".
func (b BaseURL) JoinKey(prefix, key string) string {
	return b.Join(append([]string{prefix}, strings.Split(strings.Trim(key, "/"), "/")...)...)
}

// escapeSegment percent-escapes one path segment. The dot segments "." and
// "..", which URL resolution would collapse, are escaped too.
func escapeSegment(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}
