package faults

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sevra/atlas/internal/geo"
	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/review"
)

// serve runs one request through the rig's handler in-process.
func (r *abuseRig) serve(method, target, ctype string, body []byte, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	r.app.Handler().ServeHTTP(rec, req)
	return rec
}

// FuzzUploadMultipart sends arbitrary multipart bodies to POST
// /api/v1/media as a signed-in user (SQLite, the pure-Go engine): the
// answer is always one the route documents, never a 5xx.
func FuzzUploadMultipart(f *testing.F) {
	f.Add(multipartFile(pngImage(4, 4)))
	f.Add(multipartFile(pngHeaderOnly(100000, 100000)))
	f.Add(multipartFile(nil))
	f.Add([]byte("--" + multipartBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nGIF89a"))
	f.Add([]byte("--" + multipartBoundary + "--\r\n"))
	f.Add([]byte{})
	r := newAbuseRigWith(f, "", nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := r.serve("POST", "/api/v1/media", multipartType, body, r.userToken)
		if !slices.Contains([]int{201, 202, 400, 413, 415, 422}, rec.Code) {
			t.Fatalf("upload answered %d: %.300s", rec.Code, rec.Body.String())
		}
	})
}

// FuzzSalonSlug requests GET /api/v1/salons/{slug} with any slug (SQLite):
// 200, 301 (an old slug), 307 (ServeMux cleaning a path such as ".."), 400
// or 404, never a 5xx.
func FuzzSalonSlug(f *testing.F) {
	for _, s := range []string{"golden-rose-makeup-atelier-qom-1", "\x00", "ab\x00cd", "\xff\xfe", "سالن-زیبایی", "A<b>\"'&", "\u202eevil", "..", "%2e%2e", "", strings.Repeat("k", 3000)} {
		f.Add(s)
	}
	r := newAbuseRigWith(f, "", nil)
	f.Fuzz(func(t *testing.T, slug string) {
		rec := r.serve("GET", "/api/v1/salons/"+url.PathEscape(slug), "", nil, "")
		if !slices.Contains([]int{200, 301, 307, 400, 404}, rec.Code) {
			t.Fatalf("GET salon %q answered %d: %.300s", slug, rec.Code, rec.Body.String())
		}
	})
}

// FuzzJobPayloads decodes arbitrary job payloads with the review, media
// and geo decoders: never a panic, and an accepted payload, encoded again,
// decodes to the same value.
func FuzzJobPayloads(f *testing.F) {
	for _, s := range []string{`{"salonId":3,"mode":"async","eventId":"e1"}`, `{"mediaId":7,"storageKey":"incoming/7.jpg"}`,
		`{"salonId":3,"cityId":2}`, `{"cityId":2}`, `{"salonId":-1}`, `{"mediaId":1e309}`, `null`, `[]`, `{"mode":"bogus"}`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, review.ParsePayload)
		roundTrip(t, data, media.ParsePayload)
		roundTrip(t, data, geo.ParsePayload)
	})
}

func roundTrip[P any](t *testing.T, data []byte, parse func([]byte) (P, error)) {
	t.Helper()
	p, err := parse(data)
	if err != nil {
		return
	}
	again, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("%T from %q does not encode: %v", p, data, err)
	}
	q, err := parse(again)
	if err != nil {
		t.Fatalf("%T from %q, encoded as %s, is refused: %v", p, data, again, err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("%T from %q: %+v, round trip %+v", p, data, p, q)
	}
}
