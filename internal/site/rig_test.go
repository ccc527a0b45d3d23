package site_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

// token is the rig's admin token.
const token = "site-test-admin-token"

// rig is a whole Atlas process (store, workers, HTTP) over seeded data.
type rig struct {
	a   *app.App
	st  *store.Store
	srv *httptest.Server
	// base is the public origin of the sitemap and canonical URLs: the
	// test server's own, so a browser (and Lighthouse) sees canonical
	// URLs on the origin it loaded.
	base string
}

// dialects lists the stores a test runs on: SQLite always, PostgreSQL
// when ATLAS_TEST_DATABASE_URL is set.
func dialects() []struct {
	name string
	open storetest.Opener
} {
	return []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}}
}

// newRig seeds st with o and starts Atlas over it.
func newRig(t testing.TB, st *store.Store, o seed.Options) *rig {
	t.Helper()
	if _, err := seed.Run(context.Background(), st, o); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	a := apptest.Start(t, app.Config{DataDir: t.TempDir(), Workers: true, HTTP: true, AdminToken: token,
		SEO: app.SEOConfig{BaseURL: base, ScheduleTZ: "UTC"}, Views: app.ViewsConfig{FlushEvery: 200 * time.Millisecond}}, &app.Hooks{Store: st}, false)
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &rig{a: a, st: st, srv: srv, base: base}
}

// local turns a canonical URL into the test server's.
func (r *rig) local(u string) string { return r.srv.URL + strings.TrimPrefix(u, r.base) }

// client follows no redirects: tests look at each 301.
var client = &http.Client{Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (r *rig) get(t testing.TB, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// api sends a JSON API request as the admin and decodes the answer into
// out (nil: ignored); it returns the status.
func (r *rig) api(t testing.TB, method, path, ctype string, body io.Reader, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// upload posts a generated PNG to /api/v1/media and returns its id.
func (r *rig) upload(t testing.TB, shade uint8) int64 {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 800, 600))
	for y := range 600 {
		for x := range 800 {
			img.SetRGBA(x, y, color.RGBA{shade, uint8(x * 255 / 800), uint8(y * 255 / 600), 255})
		}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "photo.png")
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(fw, img); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	var acc struct {
		ID int64 `json:"id"`
	}
	if s := r.api(t, http.MethodPost, "/api/v1/media", mw.FormDataContentType(), &body, &acc); s != http.StatusAccepted && s != http.StatusOK {
		t.Fatalf("upload: status %d", s)
	}
	return acc.ID
}

// attach attaches media id to a salon (role) or a post (role "").
func (r *rig) attach(t testing.TB, kind, slug string, id int64, role string) {
	t.Helper()
	body := fmt.Sprintf(`{"media_id":%d,"role":%q}`, id, role)
	if s := r.api(t, http.MethodPost, "/api/v1/"+kind+"/"+slug+"/media", "application/json", strings.NewReader(body), nil); s != http.StatusOK {
		t.Fatalf("attach media %d to %s %s: status %d", id, kind, slug, s)
	}
}

// waitReady waits until every media row is ready (read from the table).
func (r *rig) waitReady(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		var n int
		if err := r.st.DB().QueryRow("SELECT count(*) FROM media WHERE status <> 'ready'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d media items still not ready", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// topSalon returns the slug of the best-ranked salon and a post's slug,
// read straight from the tables.
func (r *rig) topSalon(t testing.TB) (salon, post string) {
	t.Helper()
	if err := r.st.DB().QueryRow("SELECT slug FROM salons ORDER BY bayesian_score DESC, id LIMIT 1").Scan(&salon); err != nil {
		t.Fatal(err)
	}
	if err := r.st.DB().QueryRow(r.st.Rebind("SELECT slug FROM posts WHERE published_at <= ? ORDER BY published_at DESC, id DESC LIMIT 1"),
		time.Now().UTC()).Scan(&post); err != nil {
		t.Fatal(err)
	}
	return salon, post
}

// withPhotos uploads three photos to the top salon (cover and gallery)
// and a cover to the newest post, and waits for their variants.
func (r *rig) withPhotos(t testing.TB) (salon, post string) {
	t.Helper()
	salon, post = r.topSalon(t)
	r.attach(t, "salons", salon, r.upload(t, 200), "cover")
	r.attach(t, "salons", salon, r.upload(t, 120), "gallery")
	r.attach(t, "salons", salon, r.upload(t, 40), "gallery")
	r.attach(t, "posts", post, r.upload(t, 90), "")
	r.waitReady(t)
	return salon, post
}
