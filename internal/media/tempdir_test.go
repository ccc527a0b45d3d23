package media

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/media/imaging"
)

// TestNewRemovesStaleTempFiles: files that a crashed or killed process
// left in the temp dir (tmp/upload-*, tmp/original-*) are removed when a
// Service starts; the temp files of a process that still runs are kept.
func TestNewRemovesStaleTempFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	write := func(rel string) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("partial upload"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
		return p
	}
	// The flat layout of earlier versions, and a dead process's directory.
	stale := []string{write("upload-123"), write("original-456"), write("p-dead/upload-789"), write("p-dead/original-1"), write("p-dead/.lock")}
	other := write("notes.txt") // not ours: kept
	// A live process: another Service on the same parent, still open.
	f := newFixture(t, imaging.NewPureEngine(nil), imaging.Spec{})
	live, err := New(Config{Storage: f.local, Engine: imaging.NewPureEngine(nil), Repo: f.repo, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	inUse := filepath.Join(live.tempDir, "upload-live")
	if err := os.WriteFile(inUse, []byte("being received"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(inUse, old, old) // old, but its process holds it
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale temp file %s survived a start: %v", p, err)
		}
	}
	// A second start: the live service's file stays.
	next, err := New(Config{Storage: f.local, Engine: imaging.NewPureEngine(nil), Repo: f.repo, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{inUse, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	// Closing a service removes its own directory.
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(next.tempDir); !os.IsNotExist(err) {
		t.Errorf("closed service's temp dir %s is left: %v", next.tempDir, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, filepath.Base(live.tempDir)) || len(names) != 2 {
		t.Errorf("temp dir holds %v, want the live service's directory and notes.txt", names)
	}
}
