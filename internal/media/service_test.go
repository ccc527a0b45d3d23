package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
)

// fixture is a Service over SQLite, a local directory and the engine.
type fixture struct {
	svc   *Service
	root  string
	local *storage.Local
	repo  *SQLRepo
}

func newFixture(t *testing.T, engine imaging.Engine, spec imaging.Spec) fixture {
	t.Helper()
	st := storetest.OpenSQLite(t)
	root := t.TempDir()
	local, err := storage.NewLocal(root, "")
	if err != nil {
		t.Fatal(err)
	}
	repo := NewSQLRepo(st.DB(), st.Dialect())
	svc, err := New(Config{Storage: local, Engine: engine, Repo: repo, TempDir: t.TempDir(), Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{svc: svc, root: root, local: local, repo: repo}
}

// files lists every file under the storage root, relative to it.
func (f fixture) files(t *testing.T) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(f.root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(f.root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

var smallSpec = imaging.Spec{Widths: []int{320, 640, 1920}}

func TestServiceHappyPathAndIdempotentRerun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imaging.NewPureEngine(nil), smallSpec)
	ctx := context.Background()
	ob := &fakeOutbox{}
	f.svc.ob = ob

	acc, err := f.svc.Accept(ctx, Owner{Type: "salon", ID: 7}, bytes.NewReader(testJPEG(t, 800, 600)))
	if err != nil {
		t.Fatal(err)
	}
	if enqueued := ob.payloads(t); acc.Status != StatusProcessing || len(enqueued) != 1 || enqueued[0].MediaID != acc.ID ||
		enqueued[0].StorageKey != acc.StorageKey || JobID(acc.ID) != "media-1" {
		t.Fatalf("accepted %+v, enqueued %+v", acc, enqueued)
	}
	if v, _ := f.svc.Get(ctx, acc.ID); v.Status != StatusProcessing || len(v.Variants) != 0 {
		t.Fatalf("view before processing: %+v", v)
	}
	var pcts []int
	res, err := f.svc.GenerateVariants(ctx, acc.ID, acc.StorageKey, func(p int) { pcts = append(pcts, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Variants) != 4 || pcts[len(pcts)-1] != 100 {
		t.Fatalf("result %+v, progress %v", res, pcts)
	}
	want := []string{"media/1/320w.jpg", "media/1/320w.webp", "media/1/640w.jpg", "media/1/640w.webp"}
	if got := f.files(t); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v (original deleted, never upscaled)", got, want)
	}
	v, err := f.svc.Get(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != StatusReady || v.Width != 800 || v.Height != 600 || v.Placeholder == "" || len(v.Variants) != 4 {
		t.Fatalf("view %+v", v)
	}
	if vv := v.Variants[0]; vv.URL != "/media/1/320w.jpg" || vv.Width != 320 || vv.Height != 240 || vv.Bytes == 0 {
		t.Fatalf("first variant %+v", vv)
	}
	for _, vv := range v.Variants {
		data, _ := os.ReadFile(filepath.Join(f.root, strings.TrimPrefix(vv.URL, "/")))
		if got, _ := imaging.Sniff(data); string(got) != vv.Format {
			t.Errorf("%s sniffs as %s", vv.URL, got)
		}
	}

	// A rerun after success (the job was redelivered) is a no-op.
	again, err := f.svc.GenerateVariants(ctx, acc.ID, acc.StorageKey, nil)
	if err != nil || len(again.Variants) != 4 || again.Placeholder != res.Placeholder {
		t.Fatalf("rerun: %+v, %v", again, err)
	}
	if got := f.files(t); !slices.Equal(got, want) {
		t.Fatalf("files after rerun %v", got)
	}
}

func TestServiceRerunAfterCrashLeavesNoOrphans(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imaging.NewPureEngine(nil), smallSpec)
	ctx := context.Background()
	acc, err := f.svc.Accept(ctx, Owner{Type: "user", ID: 1}, bytes.NewReader(testJPEG(t, 700, 350)))
	if err != nil {
		t.Fatal(err)
	}
	// A crashed earlier attempt left a half-written file and a variant of
	// a width no longer configured.
	os.MkdirAll(filepath.Join(f.root, "media", "1"), 0o755)
	os.WriteFile(filepath.Join(f.root, "media", "1", ".tmp-999"), []byte("partial"), 0o644)
	os.WriteFile(filepath.Join(f.root, "media", "1", "100w.jpg"), []byte("stale"), 0o644)
	first, err := f.svc.GenerateVariants(ctx, acc.ID, acc.StorageKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"media/1/320w.jpg", "media/1/320w.webp", "media/1/640w.jpg", "media/1/640w.webp"}
	if got := f.files(t); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	// Crash after the variants were written but before the row was updated:
	// put the row back to processing and the original back in place.
	f.svc.repo.(*SQLRepo).q.ExecContext(ctx, "UPDATE media SET status = 'processing' WHERE id = 1")
	f.local.Put(ctx, acc.StorageKey, bytes.NewReader(testJPEG(t, 700, 350)), "image/jpeg")
	before := map[string][]byte{}
	for _, k := range want {
		before[k], _ = os.ReadFile(filepath.Join(f.root, k))
	}
	second, err := f.svc.GenerateVariants(ctx, acc.ID, acc.StorageKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.files(t); !slices.Equal(got, want) {
		t.Fatalf("files after rerun %v", got)
	}
	for _, k := range want {
		if after, _ := os.ReadFile(filepath.Join(f.root, k)); !bytes.Equal(after, before[k]) {
			t.Errorf("%s changed on rerun: encoding is not deterministic", k)
		}
	}
	if first.Placeholder != second.Placeholder {
		t.Errorf("placeholder changed: %q → %q", first.Placeholder, second.Placeholder)
	}
}

func TestServicePermanentFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		stored []byte // written as the original, bypassing Accept's checks
		want   error
	}{
		{"corrupt", append(testJPEG(t, 400, 300)[:600], make([]byte, 10)...), ErrCorrupt},
		{"bomb", pngHeader(20000, 20000), ErrTooManyPixels},
		{"not an image", []byte("MZ\x90\x00 an executable"), ErrUnsupportedFormat},
		{"missing original", nil, os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, imaging.NewPureEngine(nil), smallSpec)
			key := "incoming/abc.jpg"
			if tc.stored != nil {
				f.local.Put(ctx, key, bytes.NewReader(tc.stored), "image/jpeg")
			}
			id, err := f.repo.Create(ctx, Owner{Type: "salon", ID: 1}, key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.GenerateVariants(ctx, id, key, nil)
			if !errors.Is(err, ErrPermanent) || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want permanent %v", err, tc.want)
			}
			v, _ := f.svc.Get(ctx, id)
			if v.Status != StatusFailed || v.Error == "" {
				t.Fatalf("view %+v", v)
			}
			if got := f.files(t); len(got) != 0 {
				t.Fatalf("files left after a permanent failure: %v", got)
			}
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, imaging.NewPureEngine(nil), smallSpec)
		if _, err := f.svc.GenerateVariants(ctx, 42, "incoming/x.jpg", nil); !errors.Is(err, ErrPermanent) || !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}

// flakyEngine fails like a machine, not like a file.
type flakyEngine struct{ *imaging.PureEngine }

func (flakyEngine) Process(context.Context, string, imaging.Spec) (imaging.Result, error) {
	return imaging.Result{}, errors.New("out of memory")
}

func TestServiceTransientFailureIsRetryable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, flakyEngine{imaging.NewPureEngine(nil)}, smallSpec)
	ctx := context.Background()
	acc, err := f.svc.Accept(ctx, Owner{Type: "salon", ID: 1}, bytes.NewReader(testJPEG(t, 100, 100)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GenerateVariants(ctx, acc.ID, acc.StorageKey, nil)
	if err == nil || errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if v, _ := f.svc.Get(ctx, acc.ID); v.Status != StatusProcessing {
		t.Fatalf("status %s after a transient failure", v.Status)
	}
	if got := f.files(t); len(got) != 1 || !strings.HasPrefix(got[0], "incoming/") {
		t.Fatalf("the original must survive for the retry: %v", got)
	}
	if err := f.svc.MarkFailed(ctx, acc.ID, "retries exhausted: out of memory"); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.svc.Get(ctx, acc.ID); v.Status != StatusFailed || v.Error == "" {
		t.Fatalf("view %+v", v)
	}
}

func TestAcceptRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imaging.NewPureEngine(nil), smallSpec)
	ctx := context.Background()
	box := func(typ string, body ...[]byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(bytes.Join(body, nil))))
		return append(append(b, typ...), bytes.Join(body, nil)...)
	}
	full := []byte{0, 0, 0, 0}
	ispe := box("ispe", full, []byte{0, 0, 0, 64, 0, 0, 0, 48})
	heic := append(box("ftyp", []byte("heic\x00\x00\x00\x00mif1heic")),
		box("meta", full, box("iprp", box("ipco", ispe)))...)
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"bomb", pngHeader(9000, 9000), ErrTooManyPixels},
		{"text", []byte("hello"), ErrUnsupportedFormat},
		{"heic without libvips", heic, ErrUnsupportedFormat},
		// A progressive (SOF2) 4:4:4 JPEG of 3500×3500, within the pixel
		// limit, would take 184 MB to decode (imaging.PureMaxDecodeBytes).
		{"progressive 4:4:4 JPEG", []byte{0xFF, 0xD8, 0xFF, 0xC2, 0, 17, 8, 0x0D, 0xAC, 0x0D, 0xAC, 3,
			1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, 0xFF, 0xD9}, ErrTooManyPixels},
	} {
		if _, err := f.svc.Accept(ctx, Owner{Type: "salon", ID: 1}, bytes.NewReader(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := f.files(t); len(got) != 0 {
		t.Fatalf("rejected uploads left files: %v", got)
	}
	enqueueErr := errors.New("outbox down")
	f.svc.ob = &fakeOutbox{addErr: enqueueErr}
	if _, err := f.svc.Accept(ctx, Owner{Type: "salon", ID: 1}, bytes.NewReader(testJPEG(t, 50, 50))); !errors.Is(err, enqueueErr) {
		t.Fatalf("err = %v", err)
	}
	if got := f.files(t); len(got) != 0 {
		t.Fatalf("a failed enqueue left files: %v", got)
	}
	if _, err := f.svc.Get(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(999) = %v", err)
	}
}

// fakeOutbox records the events Accept writes (sync events are skipped,
// as the real outbox skips them) and can refuse them.
type fakeOutbox struct {
	mu     sync.Mutex
	events []outbox.Event
	addErr error
}

func (o *fakeOutbox) Add(_ context.Context, _ outbox.Execer, events ...outbox.Event) error {
	if o.addErr != nil {
		return o.addErr
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range events {
		if e.Mode != rollout.Sync {
			o.events = append(o.events, e)
		}
	}
	return nil
}

func (o *fakeOutbox) Publish(context.Context, ...outbox.Event) ([]outbox.Published, error) {
	return nil, nil
}

// payloads decodes the recorded MediaUploaded events.
func (o *fakeOutbox) payloads(t *testing.T) []JobPayload {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []JobPayload
	for _, e := range o.events {
		var p JobPayload
		if e.Type != EventUploaded || json.Unmarshal(e.Payload, &p) != nil {
			t.Fatalf("event %s %s", e.Type, e.Payload)
		}
		out = append(out, p)
	}
	return out
}
