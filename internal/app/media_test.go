package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/tracing"
	"github.com/sevra/atlas/jobq"
)

// wantVariants is the default variant set for a source displayed 700 px
// wide: widths 320 and 640 (never upscaled), WebP and JPEG, plus AVIF for
// both (the two smallest) when the engine encodes AVIF (libvips).
func wantVariants(avif bool) []string {
	var out []string
	for _, w := range []string{"320", "640"} {
		if avif {
			out = append(out, w+"w.avif")
		}
		out = append(out, w+"w.jpg", w+"w.webp")
	}
	return out
}

func variantNames(v media.View) []string {
	var out []string
	for _, vv := range v.Variants {
		out = append(out, vv.URL[strings.LastIndexByte(vv.URL, '/')+1:])
	}
	slices.Sort(out)
	return out
}

func TestMediaUploadEndToEnd(t *testing.T) {
	t.Parallel()
	r := newMediaRig(t, mediaRigOpts{})
	tc := tracing.New()
	// 1000×700 stored, Exif orientation 6 (rotate 90° clockwise): displayed 700×1000.
	status, body := r.upload(t, "photo.jpg", gradientJPEG(t, 1000, 700, 6, 90), http.Header{"Traceparent": {tc.String()}})
	if status != http.StatusAccepted || body["status"] != "processing" || body["id"] != float64(1) {
		t.Fatalf("upload: %d %v", status, body)
	}
	v := r.waitStatus(t, 1)
	avif := r.engine.CanEncode(imaging.AVIF)
	if v.Status != media.StatusReady || v.Width != 700 || v.Height != 1000 || v.Placeholder == "" {
		t.Fatalf("view %+v", v)
	}
	if got := variantNames(v); !slices.Equal(got, wantVariants(avif)) {
		t.Fatalf("variants %v, want %v (engine %s)", got, wantVariants(avif), r.engine.Name())
	}
	for _, vv := range v.Variants {
		wantH := map[int]int{320: 457, 640: 914}[vv.Width]
		if vv.Height < wantH-1 || vv.Height > wantH+1 || vv.Bytes <= 0 || !strings.HasPrefix(vv.URL, "/media/1/") {
			t.Errorf("variant %+v (want height ≈%d: orientation applied)", vv, wantH)
		}
		resp, err := http.Get(r.srv.URL + vv.URL)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sniffed, _ := imaging.Sniff(data)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != imaging.Format(vv.Format).ContentType() ||
			resp.Header.Get("Cache-Control") != storage.CacheControl || int64(len(data)) != vv.Bytes || string(sniffed) != vv.Format {
			t.Errorf("GET %s: %d %q %q, %d bytes sniffed %s", vv.URL, resp.StatusCode, resp.Header.Get("Content-Type"),
				resp.Header.Get("Cache-Control"), len(data), sniffed)
		}
	}
	j, state := r.waitJob(t, "media-1")
	if state != jobq.StateCompleted || string(j.Progress) != "100" || j.AttemptsMade != 1 {
		t.Fatalf("job: %s, progress %s, attempts %d", state, j.Progress, j.AttemptsMade)
	}
	// The original is gone, nothing else was written, no temp file is left.
	var want []string
	for _, n := range wantVariants(avif) {
		want = append(want, "media/1/"+n)
	}
	if got := files(t, r.root); !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	if got := files(t, r.tmp); len(got) != 0 {
		t.Fatalf("temp files left: %v", got)
	}
	if n := r.count(t, "SELECT count(*) FROM outbox WHERE type = 'MediaUploaded' AND published_at IS NOT NULL"); n != 1 {
		t.Fatalf("%d published MediaUploaded rows, want 1", n)
	}
	// The request's trace reaches the worker's log line.
	if !strings.Contains(grepLine(r.logs.String(), "media job done"), "trace_id="+tc.TraceIDString()) {
		t.Errorf("worker log lacks trace_id=%s:\n%s", tc.TraceIDString(), r.logs)
	}

	// Idempotent rerun: the handler runs twice more on the same job.
	before := r.view(t, 1)
	for range 2 {
		if _, err := r.svc.HandleGenerate(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	if got := files(t, r.root); !slices.Equal(got, want) {
		t.Fatalf("after reruns: stored %v, want %v", got, want)
	}
	if after := r.view(t, 1); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("view changed on rerun:\n%+v\n%+v", before, after)
	}
	if resp, _ := http.Get(r.srv.URL + "/api/v1/media/99"); resp.StatusCode != 404 {
		t.Fatalf("GET unknown media: %d", resp.StatusCode)
	}
}

func grepLine(logs, msg string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, msg) {
			return l
		}
	}
	return ""
}

// hiddenLen hides a reader's length so the request is sent chunked.
type hiddenLen struct{ io.Reader }

func TestMediaHostileUploads(t *testing.T) {
	t.Parallel()
	r := newMediaRig(t, mediaRigOpts{limits: media.Limits{MaxBytes: 1 << 20, MaxPixels: 10_000_000}})
	big := append(gradientJPEG(t, 64, 64, 0, 80), bytes.Repeat([]byte{0xAB}, 3<<20)...)
	post := func(body io.Reader, ctype, auth string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/media", body)
		req.Header.Set("Content-Type", ctype)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return doJSON(t, req)
	}
	mp := func(name string, data []byte) (*bytes.Buffer, string) {
		return multipartBody(t, name, [2]string{"note", "hello"}, [2]string{"file", string(data)})
	}
	tests := []struct {
		name   string
		send   func() (int, map[string]any)
		status int
		code   string
	}{
		{"oversized, length known", func() (int, map[string]any) { b, c := mp("big.jpg", big); return post(b, c, "Bearer tok") }, 413, "too_large"},
		{"oversized, chunked", func() (int, map[string]any) {
			b, c := mp("big.jpg", big)
			return post(hiddenLen{b}, c, "Bearer tok")
		}, 413, "too_large"},
		{"decompression bomb header", func() (int, map[string]any) {
			b, c := mp("bomb.png", pngBombHeader(60000, 60000))
			return post(b, c, "Bearer tok")
		}, 422, "too_many_pixels"},
		{"garbage", func() (int, map[string]any) {
			b, c := mp("cat.jpg", []byte("#!/bin/sh\nrm -rf /\n"))
			return post(b, c, "Bearer tok")
		}, 415, "unsupported_media_type"},
		{"svg", func() (int, map[string]any) {
			b, c := mp("x.jpg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
			return post(b, c, "Bearer tok")
		}, 415, "unsupported_media_type"},
		{"20000x20000 PNG claim", func() (int, map[string]any) {
			b, c := mp("small.png", pngBombHeader(20000, 20000))
			return post(b, c, "Bearer tok")
		}, 422, "too_many_pixels"},
		{"zero-byte file", func() (int, map[string]any) {
			b, c := mp("empty.jpg", nil)
			return post(b, c, "Bearer tok")
		}, 422, "corrupt_image"},
		{"HTML named .jpg", func() (int, map[string]any) {
			b, c := mp("photo.jpg", []byte("<!doctype html><html><script>alert(1)</script></html>"))
			return post(b, c, "Bearer tok")
		}, 415, "unsupported_media_type"},
		{"JPEG magic followed by HTML (polyglot)", func() (int, map[string]any) {
			b, c := mp("poly.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("<html><script>alert(1)</script></html>")...))
			return post(b, c, "Bearer tok")
		}, 422, "corrupt_image"},
		{"truncated header", func() (int, map[string]any) {
			b, c := mp("x.jpg", gradientJPEG(t, 64, 64, 0, 80)[:40])
			return post(b, c, "Bearer tok")
		}, 422, "corrupt_image"},
		{"missing file part", func() (int, map[string]any) {
			b, c := multipartBody(t, "", [2]string{"note", "hello"})
			return post(b, c, "Bearer tok")
		}, 400, "missing_file"},
		{"not multipart", func() (int, map[string]any) {
			return post(strings.NewReader("{}"), "application/json", "Bearer tok")
		}, 415, "not_multipart"},
		{"truncated multipart", func() (int, map[string]any) {
			b, c := mp("a.jpg", big[:5000])
			return post(bytes.NewReader(b.Bytes()[:b.Len()-100]), c, "Bearer tok") // no closing boundary
		}, 400, "bad_multipart"},
		{"unauthenticated", func() (int, map[string]any) { b, c := mp("a.jpg", big[:1000]); return post(b, c, "") }, 401, "unauthorized"},
		{"wrong token", func() (int, map[string]any) { b, c := mp("a.jpg", big[:1000]); return post(b, c, "Bearer x") }, 401, "unauthorized"},
	}
	for _, tc := range tests {
		status, body := tc.send()
		code, _ := body["error"].(map[string]any)["code"].(string)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	if got := files(t, r.root); len(got) != 0 {
		t.Fatalf("rejected uploads stored %v", got)
	}
	if got := files(t, r.tmp); len(got) != 0 {
		t.Fatalf("rejected uploads left temp files %v", got)
	}
	if n := r.count(t, "SELECT count(*) FROM media") + r.count(t, "SELECT count(*) FROM outbox"); n != 0 {
		t.Fatalf("rejected uploads left %d rows", n)
	}

	// A PNG named .jpg (and sent as image/jpeg) is judged by its bytes.
	status, body := r.upload(t, "holiday.jpg", smallPNG(t, 400, 300), nil)
	if status != 202 {
		t.Fatalf("renamed PNG: %d %v", status, body)
	}
	j, _ := r.waitJob(t, "media-1")
	p, err := media.ParsePayload(j.Data)
	if err != nil || !strings.HasSuffix(p.StorageKey, ".png") {
		t.Fatalf("renamed PNG stored as %q (%v), want a .png original", p.StorageKey, err)
	}
	if v := r.waitStatus(t, 1); v.Status != media.StatusReady || v.Width != 400 {
		t.Fatalf("renamed PNG: %+v", v)
	}
	// The earlier rejects lost nothing else: the accepted upload is intact.
	if got := files(t, r.tmp); len(got) != 0 {
		t.Fatalf("temp files left: %v", got)
	}
}

func TestMediaBadFileFailsOnce(t *testing.T) {
	t.Parallel()
	r := newMediaRig(t, mediaRigOpts{})
	full := gradientJPEG(t, 800, 600, 0, 90)
	status, body := r.upload(t, "cut.jpg", full[:len(full)/2], nil) // the header is whole; the scan is cut
	if status != 202 {
		t.Fatalf("truncated JPEG: %d %v (its header is valid, so it is accepted)", status, body)
	}
	j, state := r.waitJob(t, "media-1")
	if state != jobq.StateFailed || j.AttemptsMade != 1 || !strings.Contains(j.FailedReason, "corrupt image") {
		t.Fatalf("job: %s, attempts %d, reason %q; want failed once with a clear reason", state, j.AttemptsMade, j.FailedReason)
	}
	v := r.view(t, 1)
	if v.Status != media.StatusFailed || !strings.Contains(v.Error, "corrupt image") || len(v.Variants) != 0 {
		t.Fatalf("view %+v", v)
	}
	if got := files(t, r.root); len(got) != 0 {
		t.Fatalf("files left after a permanent failure: %v", got)
	}
}

// flaky fails like a machine, never like a file.
type flaky struct{ *imaging.PureEngine }

func (flaky) Process(context.Context, string, imaging.Spec) (imaging.Result, error) {
	return imaging.Result{}, errors.New("disk full")
}

func TestMediaRetriesExhaustedMarksFailed(t *testing.T) {
	t.Parallel()
	r := newMediaRig(t, mediaRigOpts{engine: flaky{imaging.NewPureEngine(nil)}, settings: func(s *queues.Settings) {
		s.Defaults.Attempts = 3
		s.Defaults.Backoff = &jobq.Backoff{Type: jobq.BackoffFixed, Delay: 10 * time.Millisecond}
	}})
	if status, body := r.upload(t, "a.jpg", gradientJPEG(t, 100, 100, 0, 80), nil); status != 202 {
		t.Fatalf("upload: %d %v", status, body)
	}
	j, state := r.waitJob(t, "media-1")
	if state != jobq.StateFailed || j.AttemptsMade != 3 || !strings.Contains(j.FailedReason, "disk full") {
		t.Fatalf("job %s attempts %d reason %q", state, j.AttemptsMade, j.FailedReason)
	}
	v := r.view(t, 1)
	if v.Status != media.StatusFailed || v.Error != "processing failed after 3 attempts" {
		t.Fatalf("view %+v: the row must not stay processing", v)
	}
	if !strings.Contains(grepLine(r.logs.String(), "media job gave up"), "trace_id=") {
		t.Errorf("give-up log line lacks a trace id:\n%s", r.logs)
	}
}

func TestMediaSyncMode(t *testing.T) {
	t.Parallel()
	r := newMediaRig(t, mediaRigOpts{mode: rollout.Sync})
	status, body := r.upload(t, "a.jpg", gradientJPEG(t, 1000, 700, 6, 85), nil)
	if status != http.StatusCreated || body["status"] != "ready" || body["placeholder"] == "" {
		t.Fatalf("sync upload: %d %v", status, body)
	}
	if got := variantNames(r.view(t, 1)); !slices.Equal(got, wantVariants(r.engine.CanEncode(imaging.AVIF))) {
		t.Fatalf("variants %v", got)
	}
	if n := r.count(t, "SELECT count(*) FROM outbox"); n != 0 {
		t.Fatalf("sync mode wrote %d outbox rows", n)
	}
	time.Sleep(100 * time.Millisecond)
	if j, _ := r.prod.Queue(queues.QueueMedia).GetJob(context.Background(), "media-1"); j != nil {
		t.Fatalf("sync mode enqueued %s", j.ID)
	}
	// A bad file fails in the request: 422 at once, the row records why.
	full := gradientJPEG(t, 800, 600, 0, 90)
	status, body = r.upload(t, "cut.jpg", full[:len(full)/2], nil)
	if status != 422 {
		t.Fatalf("sync truncated JPEG: %d %v", status, body)
	}
	if v := r.view(t, 2); v.Status != media.StatusFailed || v.Error == "" {
		t.Fatalf("view %+v", v)
	}
	want := []string{}
	for _, n := range wantVariants(r.engine.CanEncode(imaging.AVIF)) {
		want = append(want, "media/1/"+n)
	}
	if got := files(t, r.root); !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

func TestMediaShadowMode(t *testing.T) {
	t.Parallel()
	alter := func(side any) (any, bool) {
		sv := side.(media.ShadowView)
		if v, ok := sv.Variants["320w.jpg"]; ok && v.Bytes > 0 && v.Width == 320 && v.Height == 240 { // only the 400×300 upload
			v.Width = 321
			sv.Variants["320w.jpg"] = v
			return sv, true
		}
		return sv, false
	}
	r := newMediaRig(t, mediaRigOpts{mode: rollout.Shadow, alter: alter})
	status, body := r.upload(t, "a.jpg", gradientJPEG(t, 1000, 700, 6, 85), nil)
	if status != http.StatusCreated || body["status"] != "ready" {
		t.Fatalf("shadow upload: %d %v", status, body)
	}
	live := r.view(t, 1)
	if _, state := r.waitJob(t, "media-1"); state != jobq.StateCompleted {
		t.Fatalf("shadow job %s\n%s", state, r.logs)
	}
	if c := r.shadow.Counts(); len(c) != 1 || c[0].Module != media.Module || c[0].Match != 1 || c[0].Mismatch != 0 {
		t.Fatalf("counts %+v, want media 1 match", c)
	}
	if after := r.view(t, 1); fmt.Sprint(after) != fmt.Sprint(live) {
		t.Fatalf("the shadow run changed the live row:\n%+v\n%+v", live, after)
	}
	// An injected alteration of the side result counts as a mismatch.
	if status, _ := r.upload(t, "b.jpg", gradientJPEG(t, 400, 300, 0, 85), nil); status != 201 {
		t.Fatalf("second upload: %d", status)
	}
	r.waitJob(t, "media-2")
	if c := r.shadow.Counts(); c[0].Match != 1 || c[0].Mismatch != 1 {
		t.Fatalf("counts %+v, want 1 match 1 mismatch", c)
	}
	if l := grepLine(r.logs.String(), "shadow result mismatch"); !strings.Contains(l, "media_id=2") || !strings.Contains(l, "job=media-2") {
		t.Fatalf("mismatch log line lacks ids: %q", l)
	}
	// Only live variants remain: no side outputs, no originals.
	for _, f := range files(t, r.root) {
		if !strings.HasPrefix(f, "media/1/") && !strings.HasPrefix(f, "media/2/") {
			t.Errorf("left behind: %s", f)
		}
	}
}
