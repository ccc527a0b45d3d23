package sitemap

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testBase is the base URL of every test sitemap.
const testBase = "https://atlas.example"

// fixedNow is the clock of the deterministic tests.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// memSink is an in-memory FileCreator.
type memSink struct {
	mu    sync.Mutex
	files map[string]*bytes.Buffer
}

func newMemSink() *memSink { return &memSink{files: map[string]*bytes.Buffer{}} }

func (m *memSink) Create(name string) (io.WriteCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &bytes.Buffer{}
	m.files[name] = b
	return nopCloser{b}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// gunzip returns the uncompressed content of a gzip stream.
func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// golden compares got with testdata/<name>, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (run with -update if intended)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// fixedRand yields a fixed byte sequence, for deterministic generation ids.
type fixedRand struct{ b byte }

func (r *fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		r.b++
		p[i] = r.b
	}
	return len(p), nil
}

// openStore opens a migrated SQLite store in the test's temp dir.
func openStore(t testing.TB) *store.Store { return storetest.OpenSQLite(t) }

// newTestPublisher returns a Publisher in a temp data dir with a fixed
// clock and id source.
func newTestPublisher(t testing.TB, dataDir string) *Publisher {
	t.Helper()
	p, err := NewPublisher(dataDir, &PublisherOptions{Now: func() time.Time { return fixedNow }, Rand: &fixedRand{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// generationFiles returns the names of the files in dir, sorted.
func generationFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// genDirs lists the generation ids present under the publisher's dir.
func genDirs(t testing.TB, p *Publisher) []string {
	t.Helper()
	var out []string
	for _, n := range generationFiles(t, p.Dir()) {
		if id, ok := strings.CutPrefix(n, genPrefix); ok {
			out = append(out, id)
		}
	}
	return out
}
