package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
	"github.com/sevra/atlas/internal/app/apptest"
	"github.com/sevra/atlas/internal/media"
	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/rollout/rollouttest"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/tracing"
	"github.com/sevra/atlas/jobq"
)

// mediaRig is the real upload path, wired by app.New: the HTTP handler
// chain, media.Service over SQLite and a local directory, the outbox with
// its relay, and queue workers on the SQLite queue backend.
type mediaRig struct {
	srv     *httptest.Server
	st      *store.Store
	svc     *media.Service
	prod    *queues.Producer
	shadow  *rollout.Recorder
	logs    *syncLog
	root    string // storage root
	tmp     string // media temp dir
	engine  imaging.Engine
	handler http.Handler
}

type mediaRigOpts struct {
	mode     rollout.Mode
	limits   media.Limits
	engine   imaging.Engine // default: imaging.OpenDefault
	settings func(*queues.Settings)
	// alter alters the workers' shadow side results (rollouttest.Faulty).
	alter func(side any) (any, bool)
}

// syncLog is a goroutine-safe log sink.
type syncLog struct {
	ch chan struct{}
	b  bytes.Buffer
}

func newSyncLog() *syncLog { l := &syncLog{ch: make(chan struct{}, 1)}; l.ch <- struct{}{}; return l }
func (l *syncLog) Write(p []byte) (int, error) {
	<-l.ch
	defer func() { l.ch <- struct{}{} }()
	return l.b.Write(p)
}
func (l *syncLog) String() string { <-l.ch; defer func() { l.ch <- struct{}{} }(); return l.b.String() }

// nopCloser makes a test engine closeable.
type nopCloser struct{ imaging.Engine }

func (nopCloser) Close() error { return nil }

func newMediaRig(t testing.TB, o mediaRigOpts) *mediaRig {
	t.Helper()
	logs := newSyncLog()
	log := slog.New(tracing.NewLogHandler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	dir := t.TempDir()
	root, tmp := filepath.Join(dir, "media"), filepath.Join(dir, "tmp")
	hooks := &app.Hooks{Relay: outbox.RelayConfig{Interval: 20 * time.Millisecond},
		Outbox: func(c *outbox.Config) { c.Grace = 50 * time.Millisecond }}
	if o.engine != nil {
		hooks.ImageEngine = nopCloser{o.engine}
	}
	if o.settings != nil {
		hooks.Queue = func(q string, s *queues.Settings) {
			if q == queues.QueueMedia {
				o.settings(s)
			}
		}
	}
	hooks.Shadow = rollouttest.Wrapper(o.alter)
	a := apptest.Start(t, app.Config{DataDir: dir, HTTP: true, Workers: true, AdminToken: "tok", Logger: log,
		Modes: rollout.Modes{media.Module: o.mode},
		Media: app.MediaConfig{MaxBytes: o.limits.MaxBytes, MaxPixels: o.limits.MaxPixels, TempDir: tmp}}, hooks, false)
	r := &mediaRig{st: a.Store(), svc: a.Media(), prod: a.Queues(), shadow: a.Shadow(), logs: logs, root: root, tmp: tmp,
		engine: a.Media().Engine(), handler: a.Handler()}
	r.srv = httptest.NewServer(r.handler)
	t.Cleanup(r.srv.Close)
	return r
}

// multipartBody builds a multipart/form-data body with the given parts
// (field name → content; "file" parts get a file name).
func multipartBody(t testing.TB, filename string, parts ...[2]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p[0] == "file" {
			w, err = mw.CreateFormFile("file", filename)
		} else {
			w, err = mw.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p[1])
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// upload posts file as the "file" part and decodes the JSON answer.
func (r *mediaRig) upload(t testing.TB, filename string, file []byte, hdr http.Header) (int, map[string]any) {
	t.Helper()
	body, ctype := multipartBody(t, filename, [2]string{"file", string(file)})
	req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/media", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer tok")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return doJSON(t, req)
}

func doJSON(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %d, body %q is not JSON", req.Method, req.URL, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

// view GETs /api/v1/media/{id}.
func (r *mediaRig) view(t testing.TB, id int64) media.View {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/media/%d", r.srv.URL, id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v media.View
	if resp.StatusCode != 200 {
		t.Fatalf("GET media %d: %d", id, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitStatus polls until media id leaves processing.
func (r *mediaRig) waitStatus(t testing.TB, id int64) media.View {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := r.view(t, id)
		if v.Status != media.StatusProcessing {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("media %d still processing after 60s\n%s", id, r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitJob polls until job id is completed or failed.
func (r *mediaRig) waitJob(t testing.TB, id string) (*jobq.Job, jobq.State) {
	t.Helper()
	ctx := context.Background()
	q := r.prod.Queue(queues.QueueMedia)
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := q.GetJob(ctx, id)
		if err == nil && j != nil {
			s, err := j.State(ctx)
			if err == nil && (s == jobq.StateCompleted || s == jobq.StateFailed) {
				return j, s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not finished after 60s\n%s", id, r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// files lists every file under dir, relative and slash-separated.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != ".lock" { // the media temp dir's process lock
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func (r *mediaRig) count(t testing.TB, query string) int {
	t.Helper()
	var n int
	if err := r.st.DB().QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// gradientJPEG encodes a w×h image with an Exif orientation when o > 0.
func gradientJPEG(t testing.TB, w, h, o, quality int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if o == 0 {
		return b
	}
	return append(append(append([]byte{}, b[:2]...), exifOrientation(o)...), b[2:]...)
}

// exifOrientation is a big-endian APP1 Exif segment holding orientation o.
func exifOrientation(o int) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")
	tiff = binary.BigEndian.AppendUint16(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.BigEndian.AppendUint16(tiff, 3)
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, uint16(o))
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	return append(seg, payload...)
}

func smallPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngBombHeader is a PNG signature and IHDR declaring w×h, with no pixels.
func pngBombHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk := append([]byte("IHDR"), append(ihdr, 8, 2, 0, 0, 0)...)
	b := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}
