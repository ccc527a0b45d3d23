package sitemap

import (
	"bytes"
	"encoding/xml"
	"testing"
	"time"
)

// escapeText must write exactly what xml.EscapeText writes: the golden files
// and the shadow-mode fingerprints compare bytes.
func TestEscapeTextMatchesEncodingXML(t *testing.T) {
	for _, s := range []string{
		"", "https://atlas.example/salons/a-b-1", "https://atlas.example/q?a=1&b=2",
		"<>\"'&", "tab\there", "nl\nx\r", "\x7f", "\x00\x01", "سالن-تهران", "bad\xffutf8", "\uFFFE", "~!*()%2F",
	} {
		var got, want bytes.Buffer
		escapeText(&got, s)
		xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Errorf("escapeText(%q) = %q, want %q", s, got.String(), want.String())
		}
	}
}

func FuzzEscapeText(f *testing.F) {
	f.Add("https://atlas.example/salons/x")
	f.Add("a&b<c>\"'\t\n\r\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var got, want bytes.Buffer
		escapeText(&got, s)
		xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Fatalf("escapeText(%q) = %q, want %q", s, got.String(), want.String())
		}
	})
}

func TestAppendW3CMatchesW3C(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.FixedZone("IRST", 12600)),
		{},
	} {
		if got, want := string(appendW3C(nil, tm)), W3C(tm); got != want {
			t.Errorf("appendW3C(%v) = %q, want %q", tm, got, want)
		}
	}
}
