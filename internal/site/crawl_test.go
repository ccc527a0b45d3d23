package site_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/seo"
)

type sitemapURL struct {
	Loc     string   `xml:"loc"`
	LastMod string   `xml:"lastmod"`
	Images  []string `xml:"image>loc"`
}

// sitemapURLs reads the live sitemap index and every child it lists.
func (r *rig) sitemapURLs(t *testing.T) []sitemapURL {
	t.Helper()
	res, body := r.get(t, "/sitemap.xml")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/sitemap.xml: %d", res.StatusCode)
	}
	var idx struct {
		Sitemaps []sitemapURL `xml:"sitemap"`
	}
	if err := xml.Unmarshal([]byte(body), &idx); err != nil {
		t.Fatal(err)
	}
	var out []sitemapURL
	for _, sm := range idx.Sitemaps {
		res, err := client.Get(r.local(sm.Loc))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatalf("%s: %v", sm.Loc, err)
		}
		b, err := io.ReadAll(zr)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var set struct {
			URLs []sitemapURL `xml:"url"`
		}
		if err := xml.Unmarshal(b, &set); err != nil {
			t.Fatal(err)
		}
		out = append(out, set.URLs...)
	}
	return out
}

var (
	canonicalRE = regexp.MustCompile(`<link rel="canonical" href="([^"]+)">`)
	ldRE        = regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`)
	updatedRE   = regexp.MustCompile(`Page updated <time datetime="([^"]+)">`)
)

// TestCrawl follows every URL of the generated sitemap: each answers 200
// text/html, its canonical equals its <loc>, its JSON-LD parses, and the
// date it shows (and its Last-Modified) equals the sitemap's lastmod. Old
// slugs answer 301 to the canonical page, unknown ones an HTML 404, a
// removed salon 410, and validators give 304s.
func TestCrawl(t *testing.T) {
	t.Parallel()
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := newRig(t, d.open(t), seed.Options{Cities: 3, Salons: 40, Reviews: 400, Posts: 8, Seed: 3})
			salon, post := r.withPhotos(t)

			// An old post slug, a removed salon, and an old salon slug from the seed.
			var postID int64
			if err := r.st.DB().QueryRow(r.st.Rebind("SELECT id FROM posts WHERE slug = ?"), post).Scan(&postID); err != nil {
				t.Fatal(err)
			}
			if err := seo.NewRedirects(r.st).RenamePost(ctx, postID, post+"-renamed", time.Now()); err != nil {
				t.Fatal(err)
			}
			oldPost, post := post, post+"-renamed"
			var oldSalon, oldTarget, removed string
			if err := r.st.DB().QueryRow(`SELECT h.old_slug, s.slug FROM slug_history h JOIN salons s ON s.id = h.entity_id
				WHERE h.entity = 'salon' ORDER BY h.old_slug LIMIT 1`).Scan(&oldSalon, &oldTarget); err != nil {
				t.Fatal(err)
			}
			if err := r.st.DB().QueryRow(r.st.Rebind("SELECT slug FROM salons WHERE slug NOT IN (?, ?) ORDER BY id DESC LIMIT 1"),
				salon, oldTarget).Scan(&removed); err != nil {
				t.Fatal(err)
			}
			if s := r.api(t, http.MethodDelete, "/api/v1/salons/"+removed, "", nil, nil); s != http.StatusNoContent {
				t.Fatalf("DELETE salon: %d", s)
			}
			if _, err := r.a.SEO().RebuildNow(ctx); err != nil {
				t.Fatal(err)
			}

			urls := r.sitemapURLs(t)
			var want int
			if err := r.st.DB().QueryRow(r.st.Rebind(`SELECT (SELECT count(*) FROM salons) + (SELECT count(*) FROM cities)
				+ (SELECT count(*) FROM posts WHERE published_at <= ?)`), time.Now().UTC()).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if len(urls) != want || want < 40 {
				t.Fatalf("sitemap lists %d URLs, the tables hold %d pages", len(urls), want)
			}
			for _, u := range urls {
				res, body := r.get(t, strings.TrimPrefix(u.Loc, r.base))
				if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("%s: %d %s", u.Loc, res.StatusCode, res.Header.Get("Content-Type"))
				}
				if m := canonicalRE.FindStringSubmatch(body); m == nil || m[1] != u.Loc {
					t.Fatalf("%s: canonical %v", u.Loc, m)
				}
				lds := ldRE.FindAllStringSubmatch(body, -1)
				if len(lds) == 0 {
					t.Fatalf("%s: no JSON-LD", u.Loc)
				}
				for _, ld := range lds {
					var v map[string]any
					if err := json.Unmarshal([]byte(ld[1]), &v); err != nil || v["@context"] != "https://schema.org" {
						t.Fatalf("%s: JSON-LD %v: %s", u.Loc, err, ld[1])
					}
				}
				if u.LastMod != "" {
					m := updatedRE.FindStringSubmatch(body)
					lm, err := time.Parse(time.RFC3339, u.LastMod)
					if err != nil || m == nil || m[1] != lm.UTC().Format(time.RFC3339) {
						t.Fatalf("%s: sitemap lastmod %s, page shows %v", u.Loc, u.LastMod, m)
					}
					if got := res.Header.Get("Last-Modified"); got != lm.UTC().Format(http.TimeFormat) {
						t.Fatalf("%s: Last-Modified %q, sitemap lastmod %s", u.Loc, got, u.LastMod)
					}
				}
				if u.Loc == r.base+"/salons/"+salon {
					// The salon with photos lists them (image sitemap), and each answers.
					if len(u.Images) != 3 {
						t.Fatalf("%s: %d image entries, want 3", u.Loc, len(u.Images))
					}
					for _, img := range u.Images {
						if res, _ := r.get(t, strings.TrimPrefix(img, r.base)); res.StatusCode != http.StatusOK {
							t.Fatalf("image %s: %d", img, res.StatusCode)
						}
					}
				}
				if strings.Contains(u.Loc, "/"+removed) {
					t.Fatalf("removed salon %s is still in the sitemap", removed)
				}
			}

			// 301s from old slugs to the canonical page.
			for old, loc := range map[string]string{"/salons/" + oldSalon: r.base + "/salons/" + oldTarget, "/posts/" + oldPost: r.base + "/posts/" + post} {
				res, _ := r.get(t, old)
				if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != loc {
					t.Fatalf("%s: %d to %q, want 301 to %s", old, res.StatusCode, res.Header.Get("Location"), loc)
				}
			}
			// Unknown pages are HTML 404s; the removed salon is 410.
			for path, status := range map[string]int{"/salons/no-such-salon": 404, "/posts/no-such-post": 404, "/cities/atlantis": 404,
				"/no/such/page": 404, "/salons/" + removed: 410, "/cities/" + "tehran" + "?page=999": 404} {
				res, body := r.get(t, path)
				if res.StatusCode != status || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<h1>") {
					t.Fatalf("%s: %d %s, want %d HTML", path, res.StatusCode, res.Header.Get("Content-Type"), status)
				}
			}

			// Validators: If-None-Match and If-Modified-Since give 304s.
			res, _ := r.get(t, "/salons/"+salon)
			etag, lm := res.Header.Get("ETag"), res.Header.Get("Last-Modified")
			if etag == "" || lm == "" || !strings.Contains(res.Header.Get("Cache-Control"), "s-maxage=") {
				t.Fatalf("salon validators: ETag %q, Last-Modified %q, Cache-Control %q", etag, lm, res.Header.Get("Cache-Control"))
			}
			if res, body := r.get(t, "/salons/"+salon, "If-None-Match", etag); res.StatusCode != http.StatusNotModified || body != "" {
				t.Fatalf("If-None-Match: %d", res.StatusCode)
			}
			if res, _ := r.get(t, "/salons/"+salon, "If-Modified-Since", lm); res.StatusCode != http.StatusNotModified {
				t.Fatalf("If-Modified-Since: %d", res.StatusCode)
			}
			if res, _ := r.get(t, "/salons/"+salon, "If-None-Match", `"other"`); res.StatusCode != http.StatusOK {
				t.Fatalf("stale If-None-Match: %d", res.StatusCode)
			}
		})
	}
}
