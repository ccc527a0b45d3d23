package sitemap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sevra/atlas/internal/media/storage"
	"github.com/sevra/atlas/internal/sitemap/sitemaptest"
	"github.com/sevra/atlas/internal/store"
)

// sharedRig is two nodes (publishers with their own data dirs) sharing one
// database and one storage directory, with a clock the test moves.
type sharedRig struct {
	st      *store.Store
	objDir  string
	objects Objects
	mu      sync.Mutex
	now     time.Time
}

// newSharedRig shares a storage directory (kind "dir"), whose files the
// test reads directly, or an in-process S3 fake (kind "s3").
func newSharedRig(t *testing.T, kind string) *sharedRig {
	t.Helper()
	r := &sharedRig{st: openStore(t), now: fixedNow}
	sitemaptest.Seed(t, r.st)
	if kind == "s3" {
		r.objects = newFakeS3(t)
		return r
	}
	r.objDir = t.TempDir()
	local, err := storage.NewLocal(r.objDir, "")
	if err != nil {
		t.Fatal(err)
	}
	r.objects = local
	return r
}

// newFakeS3 is storage.S3 on a gofakes3 server.
func newFakeS3(t *testing.T) *storage.S3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("atlas"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s, err := storage.NewS3WithConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("key", "secret", "")},
		storage.S3Config{Bucket: "atlas", Prefix: "site", Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// file returns a stored file: read from the directory itself, or from S3.
func (r *sharedRig) file(t *testing.T, gen, name string) ([]byte, error) {
	t.Helper()
	if r.objDir != "" {
		return os.ReadFile(filepath.Join(r.objDir, "sitemaps", gen, name))
	}
	rc, err := r.objects.Open(context.Background(), "sitemaps/"+gen+"/"+name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (r *sharedRig) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }

func (r *sharedRig) advance(d time.Duration) { r.mu.Lock(); r.now = r.now.Add(d); r.mu.Unlock() }

// node returns a builder and its publisher; seed makes its generation
// ids differ from other nodes'. objects overrides the shared storage
// (to inject faults) when not nil.
func (r *sharedRig) node(t *testing.T, seed byte, objects Objects) (*Builder, *Publisher) {
	t.Helper()
	if objects == nil {
		objects = r.objects
	}
	p, err := NewPublisher(t.TempDir(), &PublisherOptions{Now: r.clock, Rand: &fixedRand{b: seed},
		Shared: &Shared{Objects: objects, Pointer: r.st}})
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureBuilder(t, Config{DB: r.st, Publisher: p, Limits: Limits{MaxURLs: 2}, Now: r.clock}), p
}

// pointer reads the live pointer row with SQL, not through the Publisher.
func (r *sharedRig) pointer(t *testing.T) (live, prev string) {
	t.Helper()
	err := r.st.DB().QueryRow(`SELECT generation, previous FROM sitemap_live WHERE id = 1`).Scan(&live, &prev)
	if err != nil {
		t.Fatalf("read sitemap_live: %v", err)
	}
	return live, prev
}

// stored lists the generations in the storage: the directories in the
// storage directory, or the ids in the S3 keys.
func (r *sharedRig) stored(t *testing.T) []string {
	t.Helper()
	if r.objDir == "" {
		keys, err := r.objects.List(context.Background(), "sitemaps/")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			id := strings.Split(k, "/")[1]
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	ents, err := os.ReadDir(filepath.Join(r.objDir, "sitemaps"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// TestSharedGenerationServedByEveryNode: a rebuild on one node is served
// by the other, byte for byte as stored; the next rebuild on the other
// node switches both; a generation neither live nor previous leaves the
// storage once older than the grace period.
func TestSharedGenerationServedByEveryNode(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testSharedServedByEveryNode(t, newSharedRig(t, kind))
		})
	}
}

func testSharedServedByEveryNode(t *testing.T, r *sharedRig) {
	bA, pA := r.node(t, 0, nil)
	bB, pB := r.node(t, 100, nil)
	hA, hB := newTestHandler(t, pA), newTestHandler(t, pB)
	if g := get(t, hB, "GET", "/sitemap.xml"); g.StatusCode != 404 {
		t.Fatalf("before any publish, GET /sitemap.xml = %d, want 404", g.StatusCode)
	}

	first, err := bA.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if live, prev := r.pointer(t); live != first.Generation || prev != "" {
		t.Fatalf("pointer = %q, %q; want %q, \"\"", live, prev, first.Generation)
	}
	children := liveChildren(t, hB)
	for _, c := range children {
		want, err := r.file(t, first.Generation, strings.TrimPrefix(c, "/sitemaps/"))
		if err != nil {
			t.Fatalf("%s is not in the storage: %v", c, err)
		}
		if got := body(t, get(t, hB, "GET", c)); got != string(want) {
			t.Errorf("node B serves %s different from the stored file", c)
		}
	}
	if a, b := body(t, get(t, hA, "GET", "/sitemap.xml")), body(t, get(t, hB, "GET", "/sitemap.xml")); a != b || !strings.Contains(a, first.Generation) {
		t.Errorf("the nodes serve different indexes, or not generation %s", first.Generation)
	}
	if gens := genDirs(t, pA); len(gens) != 0 {
		t.Errorf("node A kept local generation directories %v after publishing", gens)
	}

	r.advance(time.Minute)
	second, err := bB.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := body(t, get(t, hA, "GET", "/sitemap.xml"))
	if !strings.Contains(idx, second.Generation) || strings.Contains(idx, first.Generation) {
		t.Errorf("after node B's rebuild node A serves an index without generation %s only:\n%s", second.Generation, idx)
	}
	liveChildren(t, hA)
	if got, want := r.stored(t), sorted(first.Generation, second.Generation); !slices.Equal(got, want) {
		t.Errorf("stored generations = %v, want live and previous %v", got, want)
	}

	r.advance(2 * DefaultGrace)
	third, err := bA.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.stored(t), sorted(second.Generation, third.Generation); !slices.Equal(got, want) {
		t.Errorf("after a third rebuild past the grace period, stored = %v, want %v", got, want)
	}
	if live, prev := r.pointer(t); live != third.Generation || prev != second.Generation {
		t.Errorf("pointer = %q, %q; want %q, %q", live, prev, third.Generation, second.Generation)
	}
}

// faultyObjects fails (or cancels the publish) when a key matching on is
// put.
type faultyObjects struct {
	Objects
	on     string
	cancel context.CancelFunc // nil: fail the Put instead
}

func (f faultyObjects) Put(ctx context.Context, key string, rd io.Reader, ct string) error {
	if !strings.Contains(key, f.on) {
		return f.Objects.Put(ctx, key, rd, ct)
	}
	if f.cancel == nil {
		return errors.New("injected storage failure")
	}
	err := f.Objects.Put(ctx, key, rd, ct)
	f.cancel() // the process stops after the last upload, before the switch
	return err
}

// TestSharedCrashKeepsPreviousLive: a publish that fails during the
// upload, or is stopped after the last upload but before the pointer
// moves, leaves the previous generation live on every node and removes
// what it uploaded; what a process killed mid-upload leaves in the
// storage is collected once older than the grace period.
func TestSharedCrashKeepsPreviousLive(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testSharedCrash(t, newSharedRig(t, kind))
		})
	}
}

func testSharedCrash(t *testing.T, r *sharedRig) {
	bA, _ := r.node(t, 0, nil)
	_, pB := r.node(t, 100, nil)
	hB := newTestHandler(t, pB)
	first, err := bA.Rebuild(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := liveChildren(t, hB)
	beforeIdx := body(t, get(t, hB, "GET", "/sitemap.xml"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name    string
		objects Objects
		ctx     context.Context
	}{
		{"a child upload fails", faultyObjects{Objects: r.objects, on: "posts-"}, context.Background()},
		{"stopped after the index upload", faultyObjects{Objects: r.objects, on: "/" + IndexFile, cancel: cancel}, ctx},
	} {
		bC, pC := r.node(t, 50, tc.objects)
		failed, err := bC.Rebuild(tc.ctx, nil)
		if err == nil || failed.Generation == "" {
			t.Fatalf("%s: Rebuild = %+v, %v; want an error after Begin", tc.name, failed, err)
		}
		if live, _ := r.pointer(t); live != first.Generation {
			t.Errorf("%s: pointer moved to %q", tc.name, live)
		}
		if got := liveChildren(t, hB); !slices.Equal(got, before) {
			t.Errorf("%s: node B's live children changed", tc.name)
		}
		if got := body(t, get(t, hB, "GET", "/sitemap.xml")); got != beforeIdx {
			t.Errorf("%s: node B's index changed", tc.name)
		}
		if got := r.stored(t); !slices.Equal(got, []string{first.Generation}) {
			t.Errorf("%s: stored generations = %v, want only the live one (the failed upload removed)", tc.name, got)
		}
		if g := get(t, hB, "GET", "/sitemaps/salons-1-"+failed.Generation+".xml.gz"); g.StatusCode != 404 {
			t.Errorf("%s: a child of the failed generation answered %d, want 404", tc.name, g.StatusCode)
		}
		if gens := genDirs(t, pC); len(gens) != 0 {
			t.Errorf("%s: the failed build left local directories %v", tc.name, gens)
		}
	}

	// A process killed mid-upload cleans nothing: its objects stay until
	// GC finds them older than the grace period.
	old := "20250601T100000Z-0badc0de" // two hours before fixedNow
	young := "20250601T115900Z-0fadedaa"
	for _, id := range []string{old, young} {
		if err := r.objects.Put(context.Background(), "sitemaps/"+id+"/salons-1-"+id+".xml.gz", bytes.NewReader([]byte("partial")), ChildContentType); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := pB.GC()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{old}) {
		t.Errorf("GC removed %v, want only %s (the young one may still be uploading)", removed, old)
	}
	if got, want := r.stored(t), sorted(first.Generation, young); !slices.Equal(got, want) {
		t.Errorf("after GC, stored = %v, want %v", got, want)
	}
	if got := liveChildren(t, hB); !slices.Equal(got, before) {
		t.Error("GC changed the live sitemap")
	}
}

// TestSharedReadersNeverMixGenerations is TestReadersNeverMixGenerations
// across nodes: node B serves while node A rebuilds.
func TestSharedReadersNeverMixGenerations(t *testing.T) {
	t.Parallel()
	r := newSharedRig(t, "dir")
	bA, _ := r.node(t, 0, nil)
	_, pB := r.node(t, 100, nil)
	if _, err := bA.Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	readDuringRebuilds(t, newTestHandler(t, pB), bA)
}
