package site_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/store/storetest"
)

var (
	imgRE     = regexp.MustCompile(`<img src="([^"]+)" srcset="([^"]+)" sizes="[^"]+" width="(\d+)" height="(\d+)" alt="[^"]+" decoding="async"( loading="lazy"| fetchpriority="high")>`)
	sourceRE  = regexp.MustCompile(`<source type="image/webp" srcset="([^"]+)"`)
	htmlTagRE = regexp.MustCompile(`<html lang="([a-z]+)" dir="([a-z]+)">`)
)

// TestSalonPhotos: the salon page draws each attached photo as a
// <picture> with a WebP source and a JPEG srcset from its variants, the
// intrinsic size from the media row, the cover eager and the gallery lazy,
// and every image URL answers; a photo still processing shows its
// BlurHash placeholder and no <img>. Attaching a photo shows at once
// (the page cache is invalidated).
func TestSalonPhotos(t *testing.T) {
	t.Parallel()
	r := newRig(t, storetest.OpenSQLite(t), seed.Options{Cities: 2, Salons: 10, Reviews: 60, Posts: 3, Seed: 5})
	salon, _ := r.topSalon(t)
	if res, body := r.get(t, "/salons/"+salon); res.StatusCode != 200 || strings.Contains(body, "<picture>") {
		t.Fatalf("before photos: %d, picture %v", res.StatusCode, strings.Contains(body, "<picture>"))
	}
	salon, _ = r.withPhotos(t)
	_, body := r.get(t, "/salons/"+salon)
	imgs := imgRE.FindAllStringSubmatch(body, -1)
	if len(imgs) != 3 || len(sourceRE.FindAllString(body, -1)) != 3 {
		t.Fatalf("%d <img>, %d WebP sources; want 3 each", len(imgs), len(sourceRE.FindAllString(body, -1)))
	}
	var w, h string
	if err := r.st.DB().QueryRow("SELECT width, height FROM media ORDER BY id LIMIT 1").Scan(&w, &h); err != nil {
		t.Fatal(err)
	}
	for i, m := range imgs {
		if m[3] != w || m[4] != h {
			t.Fatalf("img %d: %sx%s, media row %sx%s", i, m[3], m[4], w, h)
		}
		if lazy := m[5] == ` loading="lazy"`; lazy != (i > 0) {
			t.Fatalf("img %d: %q; the cover is eager, the gallery lazy", i, m[5])
		}
		if !strings.Contains(m[2], ".jpg 320w") {
			t.Fatalf("img %d: srcset %q", i, m[2])
		}
		for _, u := range append([]string{m[1]}, strings.Fields(sourceRE.FindAllStringSubmatch(body, -1)[i][1])[0]) {
			res, _ := r.get(t, u)
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "image/") {
				t.Fatalf("%s: %d %s", u, res.StatusCode, res.Header.Get("Content-Type"))
			}
		}
	}
	if !strings.Contains(body, `"@type":"BeautySalon"`) || !strings.Contains(body, `<meta property="og:image" content="`+r.base+`/media/`) {
		t.Fatal("no BeautySalon JSON-LD or og:image")
	}
	// A photo still processing (a row as an upload leaves it, attached
	// through the API): its placeholder, no image.
	storetest.Exec(t, r.st, `INSERT INTO media (owner_type, owner_id, status, original_key, placeholder, created_at, updated_at)
		VALUES ('user', 0, 'processing', 'incoming/x', 'LEHV6nWB2yk8pyo0adR*.7kCMdnj', ?, ?)`, time.Now(), time.Now())
	var pending int64
	if err := r.st.DB().QueryRow("SELECT max(id) FROM media").Scan(&pending); err != nil {
		t.Fatal(err)
	}
	r.attach(t, "salons", salon, pending, "gallery")
	_, body = r.get(t, "/salons/"+salon)
	if n := len(imgRE.FindAllString(body, -1)); n != 3 || !strings.Contains(body, "Photo being processed") ||
		strings.Count(body, "background-image:url(data:image/png;base64,") != 4 {
		t.Fatalf("processing photo: %d <img>, placeholder note %v, %d placeholders", n,
			strings.Contains(body, "Photo being processed"), strings.Count(body, "background-image:url(data:image/png;base64,"))
	}
}

// TestLanguageAndViews: a Persian salon name makes the page lang="fa"
// dir="rtl", an English one lang="en" dir="ltr"; serving a post page
// counts a view (applied to posts.view_count by the flush job).
func TestLanguageAndViews(t *testing.T) {
	t.Parallel()
	r := newRig(t, storetest.OpenSQLite(t), seed.Options{Cities: 2, Salons: 30, Reviews: 60, Posts: 4, Seed: 9})
	var fa, en string
	rows, err := r.st.DB().Query("SELECT slug, name FROM salons")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var slug, name string
		rows.Scan(&slug, &name)
		if name[0] >= 0x80 {
			fa = slug
		} else {
			en = slug
		}
	}
	rows.Close()
	if fa == "" || en == "" {
		t.Fatal("the seed has no Persian or no English salon name")
	}
	for slug, want := range map[string]string{fa: "fa rtl", en: "en ltr"} {
		_, body := r.get(t, "/salons/"+slug)
		if m := htmlTagRE.FindStringSubmatch(body); m == nil || m[1]+" "+m[2] != want {
			t.Fatalf("%s: <html> %v, want %s", slug, m, want)
		}
	}
	_, post := r.topSalon(t)
	var before int64
	if err := r.st.DB().QueryRow(r.st.Rebind("SELECT view_count FROM posts WHERE slug = ?"), post).Scan(&before); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/posts/"+post, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
		res, err := client.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("post page: %v %v", err, res)
		}
		res.Body.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		var n int64
		if err := r.st.DB().QueryRow(r.st.Rebind("SELECT view_count FROM posts WHERE slug = ?"), post).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == before+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("view_count %d, want %d", n, before+3)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOwnerWrites: attaching photos and filing verification requests is
// for the salon's owner or an admin; others get 403, anonymous callers
// 401, someone else's upload 400, a second pending request 409.
func TestOwnerWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, storetest.OpenSQLite(t), seed.Options{Cities: 1, Salons: 3, Reviews: 10, Posts: 1, Seed: 2})
	salon, _ := r.topSalon(t)
	sessions := auth.NewSessions(r.st, time.Hour, nil)
	user := func(phone, role string) (int64, string) {
		var id int64
		if err := r.st.DB().QueryRow(r.st.Rebind("INSERT INTO users (phone, role, created_at) VALUES (?, ?, ?) RETURNING id"),
			phone, role, time.Now().UTC()).Scan(&id); err != nil {
			t.Fatal(err)
		}
		tok, _, err := sessions.Create(ctx, nil, id)
		if err != nil {
			t.Fatal(err)
		}
		return id, tok
	}
	ownerID, owner := user("+989120000101", "owner")
	_, other := user("+989120000102", "user")
	storetest.Exec(t, r.st, "UPDATE salons SET owner_id = ? WHERE slug = ?", ownerID, salon)
	adminMedia := r.upload(t, 10) // uploaded by the admin token's system user

	do := func(tok, method, path, body string) int {
		req, _ := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	attach := fmt.Sprintf(`{"media_id":%d,"role":"gallery"}`, adminMedia)
	for _, c := range []struct {
		name, tok, method, path, body string
		want                          int
	}{
		{"anonymous attach", "", "POST", "/api/v1/salons/" + salon + "/media", attach, 401},
		{"other user attach", other, "POST", "/api/v1/salons/" + salon + "/media", attach, 403},
		{"owner attaches someone else's upload", owner, "POST", "/api/v1/salons/" + salon + "/media", attach, 400},
		{"bad role", token, "POST", "/api/v1/salons/" + salon + "/media", fmt.Sprintf(`{"media_id":%d,"role":"hero"}`, adminMedia), 400},
		{"unknown salon", token, "POST", "/api/v1/salons/nope/media", attach, 404},
		{"admin attach", token, "POST", "/api/v1/salons/" + salon + "/media", attach, 200},
		{"anonymous verification", "", "POST", "/api/v1/salons/" + salon + "/verification-requests", "", 401},
		{"other user verification", other, "POST", "/api/v1/salons/" + salon + "/verification-requests", "", 403},
		{"owner verification", owner, "POST", "/api/v1/salons/" + salon + "/verification-requests", "", 201},
		{"second pending request", owner, "POST", "/api/v1/salons/" + salon + "/verification-requests", "", 409},
		{"owner removes salon", owner, "DELETE", "/api/v1/salons/" + salon, "", 401},
	} {
		if got := do(c.tok, c.method, c.path, c.body); got != c.want {
			t.Fatalf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	var role string
	var n int
	r.st.DB().QueryRow(r.st.Rebind("SELECT role FROM media WHERE id = ?"), adminMedia).Scan(&role)
	r.st.DB().QueryRow("SELECT count(*) FROM verification_requests WHERE status = 'pending'").Scan(&n)
	if role != "gallery" || n != 1 {
		t.Fatalf("media role %q, pending requests %d", role, n)
	}
	// The owner's own upload can be attached by the owner.
	var own int64
	storetest.Exec(t, r.st, `INSERT INTO media (owner_type, owner_id, status, original_key, created_at, updated_at)
		VALUES ('user', ?, 'processing', 'incoming/y', ?, ?)`, ownerID, time.Now(), time.Now())
	r.st.DB().QueryRow("SELECT max(id) FROM media").Scan(&own)
	if got := do(owner, "POST", "/api/v1/salons/"+salon+"/media", fmt.Sprintf(`{"media_id":%d,"role":"cover"}`, own)); got != 200 {
		t.Fatalf("owner attaches own upload: %d", got)
	}
}
