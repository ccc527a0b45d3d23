package sitemap

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestURLSetWriterGolden(t *testing.T) {
	t.Parallel()
	lm := time.Date(2025, 2, 3, 4, 5, 6, 789, time.FixedZone("IRST", 3*3600+1800))
	tests := []struct {
		name   string
		images bool
		urls   []URL
	}{
		{"plain", false, []URL{
			{Loc: "https://atlas.example/a?x=1&y=<2>"},
			{Loc: "https://atlas.example/b", LastMod: &lm},
			{Loc: "https://atlas.example/c'\"d"},
		}},
		{"images", true, []URL{
			{Loc: "https://atlas.example/s/1", LastMod: &lm, Images: []string{"https://atlas.example/media/1&2.webp", "not-absolute"}},
			{Loc: "https://atlas.example/s/2"},
		}},
		{"empty", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := newMemSink()
			w := NewURLSetWriter(sink, func(n int) string { return fmt.Sprintf("x-%d.xml.gz", n) }, Limits{}, tc.images)
			for _, u := range tc.urls {
				if err := w.Add(u); err != nil {
					t.Fatal(err)
				}
			}
			files, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || files[0].URLs != len(tc.urls) {
				t.Fatalf("files = %+v, want one with %d URLs", files, len(tc.urls))
			}
			xmlData := gunzip(t, sink.files["x-1.xml.gz"].Bytes())
			if int64(len(xmlData)) != files[0].Bytes {
				t.Errorf("Bytes = %d, want uncompressed size %d", files[0].Bytes, len(xmlData))
			}
			golden(t, "writer/"+tc.name+".xml", xmlData)
		})
	}
}

func TestURLSetWriterSplits(t *testing.T) {
	t.Parallel()
	entry := func(i int) URL { return URL{Loc: fmt.Sprintf("https://atlas.example/p/%05d", i)} }
	one := len("<url><loc>https://atlas.example/p/00000</loc></url>\n")
	overhead := len(xmlHeader) + len(`<urlset xmlns="`+SitemapNS+`">`+"\n") + len("</urlset>\n")
	tests := []struct {
		name      string
		limits    Limits
		n         int
		wantFiles []int
	}{
		{"by count", Limits{MaxURLs: 3}, 7, []int{3, 3, 1}},
		{"exact count", Limits{MaxURLs: 3}, 6, []int{3, 3}},
		{"by bytes", Limits{MaxBytes: int64(overhead + 2*one)}, 5, []int{2, 2, 1}},
		{"bytes one short", Limits{MaxBytes: int64(overhead + 2*one - 1)}, 3, []int{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := newMemSink()
			w := NewURLSetWriter(sink, func(n int) string { return fmt.Sprintf("p-%d.xml.gz", n) }, tc.limits, false)
			for i := range tc.n {
				if err := w.Add(entry(i)); err != nil {
					t.Fatal(err)
				}
			}
			files, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, f := range files {
				got = append(got, f.URLs)
				data := gunzip(t, sink.files[f.Name].Bytes())
				if lim := tc.limits.withDefaults(); int64(len(data)) > lim.MaxBytes {
					t.Errorf("%s: %d bytes > limit %d", f.Name, len(data), lim.MaxBytes)
				}
				if c := bytes.Count(data, []byte("<url>")); c != f.URLs {
					t.Errorf("%s: %d <url> elements, FileInfo says %d", f.Name, c, f.URLs)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantFiles) {
				t.Errorf("URLs per file = %v, want %v", got, tc.wantFiles)
			}
		})
	}
}

// TestURLSetWriterRealLimit pushes 45,001 entries through the writer with
// the production limits: the last one must open a second file.
func TestURLSetWriterRealLimit(t *testing.T) {
	t.Parallel()
	sink := newMemSink()
	w := NewURLSetWriter(sink, func(n int) string { return fmt.Sprintf("s-%d.xml.gz", n) }, Limits{}, true)
	lm := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range DefaultMaxURLs + 1 {
		u := URL{Loc: fmt.Sprintf("https://atlas.example/salons/salon-%d", i), LastMod: &lm}
		if i%10 == 0 {
			u.Images = []string{fmt.Sprintf("https://atlas.example/media/%d.webp", i)}
		}
		if err := w.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].URLs != DefaultMaxURLs || files[1].URLs != 1 {
		t.Fatalf("files = %+v, want 45000 + 1", files)
	}
	data := gunzip(t, sink.files["s-2.xml.gz"].Bytes())
	if !bytes.Contains(data, []byte("salon-45000</loc>")) {
		t.Errorf("second file does not hold entry 45000:\n%s", data)
	}
}

func TestURLSetWriterRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  URL
	}{
		{"relative", URL{Loc: "/salons/x"}},
		{"ftp", URL{Loc: "ftp://atlas.example/x"}},
		{"too long", URL{Loc: "https://atlas.example/" + strings.Repeat("a", 2048)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := NewURLSetWriter(newMemSink(), func(int) string { return "a.xml.gz" }, Limits{}, false)
			if err := w.Add(tc.url); !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("Add = %v, want ErrInvalidURL", err)
			}
			if err := w.Add(URL{Loc: "https://atlas.example/ok"}); err != nil {
				t.Fatalf("writer unusable after a rejected entry: %v", err)
			}
		})
	}
	w := NewURLSetWriter(newMemSink(), func(int) string { return "a.xml.gz" }, Limits{}, false)
	if err := w.Add(URL{Loc: "https://atlas.example/x", Images: []string{"https://atlas.example/i.png"}}); err == nil {
		t.Error("images on a writer without the image namespace: want an error")
	}
}

func TestURLSetWriterImageCap(t *testing.T) {
	t.Parallel()
	sink := newMemSink()
	w := NewURLSetWriter(sink, func(int) string { return "i.xml.gz" }, Limits{}, true)
	imgs := make([]string, MaxImagesPerURL+5)
	for i := range imgs {
		imgs[i] = fmt.Sprintf("https://atlas.example/media/%d.webp", i)
	}
	if err := w.Add(URL{Loc: "https://atlas.example/s", Images: imgs}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(gunzip(t, sink.files["i.xml.gz"].Bytes()), []byte("<image:image>")); n != MaxImagesPerURL {
		t.Errorf("%d images written, want %d", n, MaxImagesPerURL)
	}
}

func TestWriteIndex(t *testing.T) {
	t.Parallel()
	lm := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	var b bytes.Buffer
	err := WriteIndex(&b, []IndexEntry{
		{Loc: "https://atlas.example/sitemaps/salons-1.xml.gz", LastMod: &lm},
		{Loc: "https://atlas.example/sitemaps/cities-1.xml.gz?a=1&b=2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "writer/index.xml", b.Bytes())
	if err := WriteIndex(&b, nil); err == nil {
		t.Error("empty index: want an error")
	}
}

func TestW3C(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 1, 2, 3, 4, 5, 999, time.UTC), "2025-01-02T03:04:05Z"},
		{time.Date(2025, 1, 2, 3, 30, 0, 0, time.FixedZone("IRST", 3*3600+1800)), "2025-01-02T00:00:00Z"},
	}
	for _, tc := range tests {
		if got := W3C(tc.in); got != tc.want {
			t.Errorf("W3C(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestLargestVariant(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"thumb":"t","w1600":"big","w800":"mid"}`, "big"},
		{`{"small":"s","large":"l","medium":"m"}`, "l"},
		{`{"xl":"x","w320":"n"}`, "n"},
		{`{}`, ""},
		{`not json`, ""},
		{`{"a":""}`, ""},
		{`{"b":"kb","a":"ka"}`, "ka"},
		// internal/media's shape: objects with key, width and format.
		{`{"320w.webp":{"key":"media/1/320w.webp","width":320,"format":"webp"},` +
			`"960w.webp":{"key":"media/1/960w.webp","width":960,"format":"webp"},` +
			`"960w.jpg":{"key":"media/1/960w.jpg","width":960,"format":"jpeg"},` +
			`"640w.jpg":{"key":"media/1/640w.jpg","width":640,"format":"jpeg"}}`, "media/1/960w.jpg"},
		{`{"a":{"key":"","width":900}}`, ""},
	}
	for _, tc := range tests {
		if got := largestVariant([]byte(tc.in)); got != tc.want {
			t.Errorf("largestVariant(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
