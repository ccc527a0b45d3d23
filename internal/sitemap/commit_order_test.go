package sitemap

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// opLog records, in order, every file operation of a Publisher and every
// step of its pointer switch.
type opLog struct {
	mu  sync.Mutex
	ops []op
}

// op is one recorded operation: kind is create, write, sync, close,
// syncdir, rename (path is the new name), put-start, put-done (path is
// the object key), swap-start or swap-done (path is the generation id).
type op struct{ kind, path string }

func (l *opLog) add(kind, path string) {
	l.mu.Lock()
	l.ops = append(l.ops, op{kind, path})
	l.mu.Unlock()
}

func (l *opLog) snapshot() []op {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

// indexes returns the positions of the operations of kind on path.
func indexes(ops []op, kind, path string) []int {
	var out []int
	for i, o := range ops {
		if o.kind == kind && o.path == path {
			out = append(out, i)
		}
	}
	return out
}

// recordingFS is the OS file system, recording each operation in log.
type recordingFS struct{ log *opLog }

func (r recordingFS) OpenFile(name string, flag int, perm fs.FileMode) (syncWriter, error) {
	f, err := osFS{}.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if flag&os.O_CREATE != 0 {
		r.log.add("create", name)
	}
	return recordingFile{syncWriter: f, log: r.log, path: name}, nil
}

func (r recordingFS) OpenDir(name string) (syncer, error) {
	d, err := osFS{}.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return recordingDir{syncer: d, log: r.log, path: name}, nil
}

func (r recordingFS) Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	r.log.add("rename", newpath)
	return nil
}

type recordingFile struct {
	syncWriter
	log  *opLog
	path string
}

func (f recordingFile) Write(b []byte) (int, error) {
	f.log.add("write", f.path)
	return f.syncWriter.Write(b)
}

func (f recordingFile) Sync() error {
	if err := f.syncWriter.Sync(); err != nil {
		return err
	}
	f.log.add("sync", f.path)
	return nil
}

func (f recordingFile) Close() error {
	f.log.add("close", f.path)
	return f.syncWriter.Close()
}

type recordingDir struct {
	syncer
	log  *opLog
	path string
}

func (d recordingDir) Sync() error {
	if err := d.syncer.Sync(); err != nil {
		return err
	}
	d.log.add("syncdir", d.path)
	return nil
}

// recordingObjects records when each upload starts and completes.
type recordingObjects struct {
	Objects
	log *opLog
}

func (o recordingObjects) Put(ctx context.Context, key string, r io.Reader, ct string) error {
	o.log.add("put-start", key)
	if err := o.Objects.Put(ctx, key, r, ct); err != nil {
		return err
	}
	o.log.add("put-done", key)
	return nil
}

// recordingPointer records when the live pointer row starts and ends
// moving.
type recordingPointer struct {
	Pointer
	log *opLog
}

func (p recordingPointer) SwapSitemapLive(ctx context.Context, gen string, now time.Time) (string, error) {
	p.log.add("swap-start", gen)
	prev, err := p.Pointer.SwapSitemapLive(ctx, gen, now)
	if err != nil {
		return "", err
	}
	p.log.add("swap-done", gen)
	return prev, nil
}

// logOpsOnFailure logs the recorded operations, numbered, if t failed.
func logOpsOnFailure(t *testing.T, ops []op) {
	t.Helper()
	if !t.Failed() {
		return
	}
	var b strings.Builder
	for i, o := range ops {
		fmt.Fprintf(&b, "\n%3d %-10s %s", i, o.kind, o.path)
	}
	t.Logf("recorded operations:%s", b.String())
}

// checkFileSynced fails unless path was written, then fsynced after its
// last write, before position before; it returns the position of that
// fsync.
func checkFileSynced(t *testing.T, ops []op, path string, before int, what string) int {
	t.Helper()
	writes := indexes(ops, "write", path)
	if len(writes) == 0 {
		t.Errorf("%s was never written", path)
		return -1
	}
	last := writes[len(writes)-1]
	for _, s := range indexes(ops, "sync", path) {
		if s > last && s < before {
			return s
		}
	}
	t.Errorf("%s: not fsynced after its last write (op %d) and before %s (op %d)", path, last, what, before)
	return -1
}

// checkDirSynced fails unless dir was fsynced after every file was
// created in it and before position before.
func checkDirSynced(t *testing.T, ops []op, dir string, before int, what string) {
	t.Helper()
	lastCreate := -1
	for i, o := range ops {
		if o.kind == "create" && filepath.Dir(o.path) == dir {
			lastCreate = i
		}
	}
	for _, s := range indexes(ops, "syncdir", dir) {
		if s > lastCreate && s < before {
			return
		}
	}
	t.Errorf("directory %s: not fsynced after its last new file (op %d) and before %s (op %d)",
		dir, lastCreate, what, before)
}

// TestCommitSyncsBeforeSwitch rebuilds through a file system that records
// every write, fsync and rename, and checks the order a crash needs: every
// generation file (each child and the index) is fsynced after its last
// write and the generation directory after its last new entry, all before
// the rename that switches the local live pointer; the pointer's temporary
// file is fsynced before that rename and the data dir after it.
func TestCommitSyncsBeforeSwitch(t *testing.T) {
	t.Parallel()
	pub := newTestPublisher(t, t.TempDir())
	log := &opLog{}
	pub.fs = recordingFS{log: log}
	b := newFixtureBuilder(t, Config{Publisher: pub, PageSize: 1, Limits: Limits{MaxURLs: 1}})
	if _, err := b.Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ops := log.snapshot()
	live, err := pub.Live()
	if err != nil {
		t.Fatal(err)
	}
	// The files to check come from the directory itself, not the log.
	files := generationFiles(t, live.Dir)
	if len(files) < 3 || !slices.Contains(files, IndexFile) {
		t.Fatalf("generation files = %v, want the index and at least two children", files)
	}
	pointer := filepath.Join(pub.Dir(), pointerFile)
	renames := indexes(ops, "rename", pointer)
	if len(renames) != 1 {
		t.Fatalf("renames onto %s = %d, want 1; ops: %v", pointer, len(renames), ops)
	}
	sw := renames[0]
	for _, name := range files {
		checkFileSynced(t, ops, filepath.Join(live.Dir, name), sw, "the pointer rename")
	}
	checkDirSynced(t, ops, live.Dir, sw, "the pointer rename")
	checkFileSynced(t, ops, filepath.Join(pub.Dir(), pointerTmp), sw, "the pointer rename")
	if s := indexes(ops, "syncdir", pub.Dir()); len(s) == 0 || s[len(s)-1] < sw {
		t.Errorf("data dir %s not fsynced after the pointer rename (op %d)", pub.Dir(), sw)
	}
	logOpsOnFailure(t, ops)
}

// TestSharedCommitUploadsBeforeSwitch publishes to shared storage through
// recorders of the local files, the uploads and the pointer row: every
// file of the generation is fsynced locally before its upload starts, and
// every upload (children and index) has completed before the pointer row
// starts moving.
func TestSharedCommitUploadsBeforeSwitch(t *testing.T) {
	t.Parallel()
	r := newSharedRig(t, "dir")
	log := &opLog{}
	p, err := NewPublisher(t.TempDir(), &PublisherOptions{Now: r.clock, Rand: &fixedRand{},
		Shared: &Shared{Objects: recordingObjects{Objects: r.objects, log: log},
			Pointer: recordingPointer{Pointer: r.st, log: log}}})
	if err != nil {
		t.Fatal(err)
	}
	p.fs = recordingFS{log: log}
	b := newFixtureBuilder(t, Config{DB: r.st, Publisher: p, PageSize: 1, Limits: Limits{MaxURLs: 1}, Now: r.clock})
	if _, err := b.Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ops := log.snapshot()
	live, _ := r.pointer(t) // read with SQL
	// The files to check: the generation's directory in the storage.
	files := generationFiles(t, filepath.Join(r.objDir, "sitemaps", live))
	if len(files) < 3 || !slices.Contains(files, IndexFile) {
		t.Fatalf("stored files = %v, want the index and at least two children", files)
	}
	swaps := indexes(ops, "swap-start", live)
	if len(swaps) != 1 || len(indexes(ops, "swap-done", live)) != 1 {
		t.Fatalf("pointer moves to %s: %d started, want 1; ops: %v", live, len(swaps), ops)
	}
	sw := swaps[0]
	genDir := filepath.Join(p.Dir(), genPrefix+live)
	firstPut := len(ops)
	for _, name := range files {
		key := objectKey(live, name)
		starts, dones := indexes(ops, "put-start", key), indexes(ops, "put-done", key)
		if len(starts) != 1 || len(dones) != 1 {
			t.Errorf("%s: %d uploads started, %d completed, want 1 each", key, len(starts), len(dones))
			continue
		}
		firstPut = min(firstPut, starts[0])
		checkFileSynced(t, ops, filepath.Join(genDir, name), starts[0], fmt.Sprintf("its upload (%s)", key))
		if dones[0] > sw {
			t.Errorf("upload of %s completed at op %d, after the pointer row started moving (op %d)", key, dones[0], sw)
		}
	}
	checkDirSynced(t, ops, genDir, firstPut, "the first upload")
	logOpsOnFailure(t, ops)
}
