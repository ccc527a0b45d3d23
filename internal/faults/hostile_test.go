package faults

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"mime/multipart"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sevra/atlas/internal/app"
)

// hostileValues are the bytes every parameter is tried with: a NUL, a NUL
// inside text, and invalid UTF-8.
var hostileValues = []struct{ name, raw string }{
	{"NUL", "\x00"},
	{"inner-NUL", "ab\x00cd"},
	{"invalid-UTF-8", "\xff\xfe"},
}

// paramCase places a hostile value v in one parameter of one request.
type paramCase struct {
	name   string
	method string
	who    string
	path   func(r *abuseRig, v string) string
	ctype  string
	body   func(r *abuseRig, v string) []byte
	want   []int // any of these
}

// jsonString is v as a JSON string literal: a NUL escaped as \u0000 (the
// only way JSON can carry it) and invalid UTF-8 left as raw bytes.
func jsonString(v string) string {
	return `"` + strings.ReplaceAll(v, "\x00", `\u0000`) + `"`
}

var pathOnly = func(p string) func(r *abuseRig, v string) string {
	return func(r *abuseRig, v string) string { return strings.Replace(p, "{v}", url.PathEscape(v), 1) }
}

// paramTable covers every parameter Atlas reads: path segments (400, or
// 404 for a path that cannot exist), query parameters and JSON fields
// (400). A 5xx is never right.
var paramTable = []paramCase{
	{"city slug", "GET", "none", pathOnly("/api/v1/cities/{v}"), "", nil, []int{400, 404}},
	{"salon slug", "GET", "none", pathOnly("/api/v1/salons/{v}"), "", nil, []int{400, 404}},
	{"post slug", "GET", "none", pathOnly("/api/v1/posts/{v}"), "", nil, []int{400, 404}},
	{"review salon slug", "POST", "user", pathOnly("/api/v1/salons/{v}/reviews"), "application/json",
		func(*abuseRig, string) []byte { return []byte(`{"rating":5,"body":"fine"}`) }, []int{400, 404}},
	{"PATCH salon slug", "PATCH", "admin", pathOnly("/api/v1/salons/{v}"), "application/json",
		func(*abuseRig, string) []byte { return []byte(`{"verified":true}`) }, []int{400, 404}},
	{"media id", "GET", "none", pathOnly("/api/v1/media/{v}"), "", nil, []int{400, 404}},
	{"verification id", "POST", "admin", pathOnly("/api/v1/admin/verifications/{v}/approve"), "", nil, []int{400, 404}},
	{"sitemap file", "GET", "none", pathOnly("/sitemaps/{v}"), "", nil, []int{400, 404}},
	{"media file", "GET", "none", pathOnly("/media/{v}"), "", nil, []int{400, 404}},
	{"dashboard queue", "GET", "admin", pathOnly("/admin/jobs/{v}"), "", nil, []int{400, 404}},
	{"dashboard job id", "GET", "admin", pathOnly("/admin/jobs/media/{v}"), "", nil, []int{400, 404}},
	{"dashboard queue action", "POST", "admin", pathOnly("/admin/jobs/media/{v}"), "", nil, []int{400, 404}},
	{"dashboard job action", "POST", "admin", pathOnly("/admin/jobs/media/{v}/retry"), "", nil, []int{400, 404}},
	{"?city=", "GET", "none", func(_ *abuseRig, v string) string { return "/api/v1/salons?city=" + url.QueryEscape(v) }, "", nil, []int{400}},
	{"?sort=", "GET", "none", func(_ *abuseRig, v string) string { return "/api/v1/salons?sort=" + url.QueryEscape(v) }, "", nil, []int{400}},
	{"salons ?page=", "GET", "none", func(_ *abuseRig, v string) string { return "/api/v1/salons?page=" + url.QueryEscape(v) }, "", nil, []int{400}},
	{"salons ?per_page=", "GET", "none", func(_ *abuseRig, v string) string { return "/api/v1/salons?per_page=" + url.QueryEscape(v) }, "", nil, []int{400}},
	{"posts ?page=", "GET", "none", func(_ *abuseRig, v string) string { return "/api/v1/posts?page=" + url.QueryEscape(v) }, "", nil, []int{400}},
	{"review body", "POST", "user", func(r *abuseRig, _ string) string { return "/api/v1/salons/" + r.nextSalon(r.t) + "/reviews" }, "application/json",
		func(_ *abuseRig, v string) []byte {
			return []byte(`{"rating":5,"body":` + jsonString("Great cut "+v+" and kind staff") + `}`)
		}, []int{400}},
	{"PATCH name", "PATCH", "admin", func(r *abuseRig, _ string) string { return "/api/v1/salons/" + r.nextSalon(r.t) }, "application/json",
		func(_ *abuseRig, v string) []byte { return []byte(`{"name":` + jsonString("Salon "+v) + `}`) }, []int{400}},
	{"PATCH slug", "PATCH", "admin", func(r *abuseRig, _ string) string { return "/api/v1/salons/" + r.nextSalon(r.t) }, "application/json",
		func(_ *abuseRig, v string) []byte { return []byte(`{"slug":` + jsonString("new-slug-"+v) + `}`) }, []int{400}},
	{"OTP phone", "POST", "none", func(*abuseRig, string) string { return "/api/v1/auth/otp/request" }, "application/json",
		func(_ *abuseRig, v string) []byte { return []byte(`{"phone":` + jsonString("+98912"+v+"1234") + `}`) }, []int{400}},
	{"OTP challenge id", "POST", "none", func(*abuseRig, string) string { return "/api/v1/auth/otp/verify" }, "application/json",
		func(_ *abuseRig, v string) []byte {
			return []byte(`{"challenge_id":` + jsonString(v) + `,"code":"123456"}`)
		}, []int{400, 401}},
}

// TestHostileParameters puts a NUL, an inner NUL and invalid UTF-8 in
// every parameter, on SQLite and PostgreSQL: each answers 400 (or 404 for
// a path that cannot exist), never a 5xx, and nothing hostile is stored.
func TestHostileParameters(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			r := newAbuseRig(t, eng.url(t))
			for _, c := range paramTable {
				for _, v := range hostileValues {
					var body []byte
					if c.body != nil {
						body = c.body(r, v.raw)
					}
					code, resp := r.do(t, c.method, c.path(r, v.raw), c.ctype, body, c.who)
					if !slices.Contains(c.want, code) {
						t.Errorf("%s with %s: %d, want one of %v: %.200s", c.name, v.name, code, c.want, resp)
					}
				}
			}
			r.noHostileText(t, "SELECT slug || ' ' || name FROM salons")
			r.noHostileText(t, "SELECT body FROM reviews")
		})
	}
}

// TestRequestBodies: JSON routes answer 413 for a body over their limit,
// 415 for a wrong Content-Type and 400 for duplicate keys (issue 17 item
// 10), on both engines.
func TestRequestBodies(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			r := newAbuseRig(t, eng.url(t))
			reviews := func() string { return "/api/v1/salons/" + r.nextSalon(t) + "/reviews" }
			patch := func() string { return "/api/v1/salons/" + r.nextSalon(t) }
			big := []byte(`{"rating":5,"body":"` + strings.Repeat("a", 17<<10) + `"}`)
			for _, c := range []struct {
				name, method string
				path         func() string
				ctype        string
				body         []byte
				want         int
			}{
				{"review over 16 KiB", "POST", reviews, "application/json", big, 413},
				{"review as text/plain", "POST", reviews, "text/plain", []byte(`{"rating":5,"body":"fine"}`), 415},
				{"review as form", "POST", reviews, "application/x-www-form-urlencoded", []byte(`{"rating":5,"body":"fine"}`), 415},
				{"review duplicate keys", "POST", reviews, "application/json", []byte(`{"rating":9,"rating":5,"body":"fine"}`), 400},
				{"PATCH duplicate keys", "PATCH", patch, "application/json", []byte(`{"slug":"Bad Slug!","slug":"fine-slug"}`), 400},
				{"PATCH as text/plain", "PATCH", patch, "text/plain", []byte(`{"verified":true}`), 415},
				{"media as JSON", "POST", func() string { return "/api/v1/media" }, "application/json", []byte(`{}`), 415},
			} {
				who := "user"
				if c.method == "PATCH" {
					who = "admin"
				}
				if code, resp := r.do(t, c.method, c.path(), c.ctype, c.body, who); code != c.want {
					t.Errorf("%s: %d, want %d: %.200s", c.name, code, c.want, resp)
				}
			}
		})
	}
}

// noHostileText fails the test if query returns a text with a NUL or
// invalid UTF-8 (stored from a hostile request).
func (r *abuseRig) noHostileText(t *testing.T, query string) {
	t.Helper()
	rows, err := r.st.DB().Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsRune(s, 0) || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
			t.Errorf("stored from a hostile request: %q", s)
		}
	}
}

// pngHeaderOnly is a PNG signature and IHDR claiming w×h, then one tiny
// IDAT and IEND: a decompression bomb's shape.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// TestHostileUploads sends what an attacker would upload and checks each
// answer, that the media view never leaks a stack trace or a build path,
// and that the server keeps answering.
func TestHostileUploads(t *testing.T) {
	r := newAbuseRigWith(t, "", func(c *app.Config) {
		c.Workers = true
		c.Media.MaxBytes = 1 << 20
	})
	valid := pngImage(64, 64)
	gifHTML := append([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"),
		[]byte("<html><script>alert(document.domain)</script></html>")...)
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>`)
	var manyParts bytes.Buffer
	mw := multipart.NewWriter(&manyParts)
	_ = mw.SetBoundary(multipartBoundary)
	for i := range 999 {
		_ = mw.WriteField(fmt.Sprintf("f%d", i), "x")
	}
	fw, _ := mw.CreateFormFile("file", "a.png")
	_, _ = fw.Write(valid)
	_ = mw.Close()

	before := r.count(t, "media")
	for _, c := range []struct {
		name string
		body []byte
		want []int
	}{
		{"decompression bomb 100000×100000", multipartFile(pngHeaderOnly(100000, 100000)), []int{422}},
		{"truncated PNG", multipartFile(valid[:len(valid)/2]), []int{202, 422}},
		{"GIF/HTML polyglot", multipartFile(gifHTML), []int{202, 415, 422}},
		{"SVG with script", multipartFile(svg), []int{415}},
		{"zero bytes", multipartFile(nil), []int{422}},
		{"over the size limit", multipartFile(bytes.Repeat(valid, (2<<20)/len(valid)+1)), []int{413}},
		{"1,000 parts", manyParts.Bytes(), []int{202, 400}},
	} {
		code, resp := r.do(t, "POST", "/api/v1/media", multipartType, c.body, "user")
		if !slices.Contains(c.want, code) {
			t.Errorf("%s: %d, want one of %v: %.200s", c.name, code, c.want, resp)
		}
		if code == 202 {
			var id int64
			if _, err := fmt.Sscanf(string(resp), `{"id":%d`, &id); err != nil {
				t.Errorf("%s: no id in %s", c.name, resp)
				continue
			}
			view := r.mediaSettled(t, id)
			for _, leak := range []string{"goroutine ", ".go:", "/work/", "<script"} {
				if strings.Contains(view, leak) {
					t.Errorf("%s: GET /api/v1/media/%d leaks %q: %.300s", c.name, id, leak, view)
				}
			}
		}
	}
	if got := r.count(t, "media") - before; got > 3 {
		t.Errorf("%d media rows from hostile uploads, want at most 3 (truncated, polyglot, the 1,000-part body's one file)", got)
	}
	if code, _ := r.do(t, "GET", "/healthz", "", nil, "none"); code != 200 {
		t.Errorf("healthz after hostile uploads: %d", code)
	}
}

// count is the number of rows in table.
func (r *abuseRig) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := r.st.DB().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mediaSettled polls GET /api/v1/media/{id} until it is no longer
// processing (at most 30 s) and returns the last body.
func (r *abuseRig) mediaSettled(t *testing.T, id int64) string {
	t.Helper()
	var body []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var code int
		code, body = r.do(t, "GET", fmt.Sprintf("/api/v1/media/%d", id), "", nil, "none")
		if code != 200 || !strings.Contains(string(body), `"processing"`) {
			break
		}
	}
	return string(body)
}
