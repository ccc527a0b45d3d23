// Package slug defines the one alphabet of Atlas's URL slugs (salons,
// cities, posts) and checks it. A slug is 1 to MaxBytes bytes of:
//
//   - lower-case ASCII letters a–z and digits 0–9,
//   - the hyphen '-',
//   - Persian letters (the Arabic-script letters of U+0621–U+06D3 that
//     Persian uses, including پ چ ژ گ ک ی) and Persian digits ۰–۹
//     (U+06F0–U+06F9).
//
// Everything else is refused: upper case (one resource, one URL), NUL and
// other control characters, white space, '/', '?', '#', '%', the HTML
// specials <>"'&, bidirectional overrides and other invisible format
// characters (including the zero-width non-joiner: write a hyphen), and
// invalid UTF-8. Slugs that pass are safe in a URL path segment, an XML
// sitemap, a cache key and a PostgreSQL text column without escaping.
package slug

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxBytes is the longest slug accepted, in bytes (UTF-8).
const MaxBytes = 200

// ErrInvalid is wrapped by Check's errors.
var ErrInvalid = errors.New("invalid slug")

// Valid reports whether s is a slug (see the package comment).
func Valid(s string) bool { return Check(s) == nil }

// Check returns nil for a valid slug, else an error wrapping ErrInvalid
// that says why (quoting at most 40 bytes of s, escaped).
func Check(s string) error {
	if s == "" || len(s) > MaxBytes {
		return fmt.Errorf("%w: %.40q: want 1 to %d bytes", ErrInvalid, s, MaxBytes)
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return fmt.Errorf("%w: %.40q: not valid UTF-8", ErrInvalid, s)
			}
		}
		if !allowed(r) {
			return fmt.Errorf("%w: %.40q: character %U is not allowed (lower-case a-z, 0-9, '-', Persian letters and digits)", ErrInvalid, s, r)
		}
	}
	return nil
}

// allowed reports whether r is in the slug alphabet.
func allowed(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
		return true
	case r >= 0x06F0 && r <= 0x06F9: // Persian digits ۰–۹
		return true
	case r >= 0x0621 && r <= 0x063A, r >= 0x0641 && r <= 0x064A: // Arabic letters ء–غ, ف–ي
		return true
	}
	switch r {
	case 'پ', 'چ', 'ژ', 'ک', 'گ', 'ی', 'ۀ', 'ه':
		return true
	}
	return false
}
