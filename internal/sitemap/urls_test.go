package sitemap

import (
	"errors"
	"testing"
)

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://atlas.example", "https://atlas.example", true},
		{"https://Atlas.Example/", "https://atlas.example", true},
		{"http://localhost:8080/fa/", "http://localhost:8080/fa", true},
		{" https://atlas.example ", "https://atlas.example", true},
		{"", "", false},
		{"atlas.example", "", false},
		{"/relative", "", false},
		{"ftp://atlas.example", "", false},
		{"https://", "", false},
		{"https://user:pw@atlas.example", "", false},
		{"https://atlas.example/?q=1", "", false},
		{"https://atlas.example/#x", "", false},
		{"https://atlas.example/?", "", false},
		{"mailto:a@b", "", false},
	}
	for _, tc := range tests {
		got, err := ParseBaseURL(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParseBaseURL(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrBaseURL) {
			t.Errorf("ParseBaseURL(%q) error %v does not wrap ErrBaseURL", tc.in, err)
		}
		if got.String() != tc.want {
			t.Errorf("ParseBaseURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBaseURLJoin(t *testing.T) {
	t.Parallel()
	b, err := ParseBaseURL("https://atlas.example/fa")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		got, want string
	}{
		{b.Join("salons", "rose-1"), "https://atlas.example/fa/salons/rose-1"},
		{b.Join("salons", "a/b?c#d"), "https://atlas.example/fa/salons/a%2Fb%3Fc%23d"},
		{b.Join("salons", ".."), "https://atlas.example/fa/salons/%2E%2E"},
		{b.Join("salons", "گل"), "https://atlas.example/fa/salons/%DA%AF%D9%84"},
		{b.JoinKey("media", "/salons/1/a b.webp"), "https://atlas.example/fa/media/salons/1/a%20b.webp"},
		{b.JoinKey("media", "x/../y"), "https://atlas.example/fa/media/x/%2E%2E/y"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func FuzzParseBaseURL(f *testing.F) {
	for _, s := range []string{"https://atlas.example", "http://a:1/b/", "https://a/?x", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		b, err := ParseBaseURL(raw)
		if err != nil {
			return
		}
		if checkLoc(b.Join("sitemap.xml")) != nil {
			t.Fatalf("ParseBaseURL(%q) accepted a base whose URLs are not listable: %q", raw, b)
		}
		again, err := ParseBaseURL(b.String())
		if err != nil || again != b {
			t.Fatalf("ParseBaseURL not idempotent on %q: %q, %v", b, again, err)
		}
	})
}
