package sitemap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Objects is shared storage for published generations, read by every
// node: the media storage (a directory or S3). *storage.Local and
// *storage.S3 implement it.
type Objects interface {
	Put(ctx context.Context, key string, r io.Reader, contentType string) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) ([]string, error)
}

// Pointer is the live-generation pointer every node reads: a database row.
// *store.Store implements it.
type Pointer interface {
	// SitemapLive returns the live generation and the one before it, ""
	// when none has been published.
	SitemapLive(ctx context.Context) (live, previous string, err error)
	// SwapSitemapLive atomically makes generation live and returns the
	// one it replaced.
	SwapSitemapLive(ctx context.Context, generation string, now time.Time) (previous string, err error)
}

// Shared publishes generations where every node sees them. Each node
// builds in its own data dir (as without Shared); Commit uploads every
// file to Objects under sitemaps/<generation>/, and only then moves the
// Pointer, so a reader on any node resolves a generation that is complete
// in Objects. The local copy is removed after the upload.
type Shared struct {
	// Objects holds the generations' files. Required.
	Objects Objects
	// Pointer names the live generation. Required.
	Pointer Pointer
	// Grace is how long a generation that is neither live nor the previous
	// one is kept in Objects, counted from its id's timestamp (when its
	// build began): it covers uploads still running on another node and
	// readers that resolved an older pointer. Default DefaultGrace.
	Grace time.Duration
}

// DefaultGrace is Shared.Grace's default.
const DefaultGrace = time.Hour

// objectsPrefix is where generations live in Objects.
const objectsPrefix = "sitemaps/"

func objectKey(id, name string) string { return objectsPrefix + id + "/" + name }

// generationTime is the time encoded at the start of a generation id.
func generationTime(id string) (time.Time, bool) {
	ts, _, ok := strings.Cut(id, "-")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405Z", ts)
	return t, err == nil
}

// liveShared reads the shared pointer.
func (p *Publisher) liveShared(ctx context.Context) (Live, error) {
	live, prev, err := p.shared.Pointer.SitemapLive(ctx)
	if err != nil {
		return Live{}, fmt.Errorf("sitemap pointer: %w", err)
	}
	if live == "" {
		return Live{}, ErrNoSitemap
	}
	if !genIDRE.MatchString(live) {
		return Live{}, fmt.Errorf("sitemap pointer: bad generation id %q", live)
	}
	l := Live{ID: live, shared: true}
	if genIDRE.MatchString(prev) {
		l.Previous = prev
	}
	return l, nil
}

// publishShared uploads the sealed generation g and moves the shared
// pointer to it. On an error before the pointer moved, the uploaded
// objects are deleted (best effort: GC removes what remains after the
// grace period) and the previous generation stays live everywhere.
func (g *Generation) publishShared(ctx context.Context) error {
	p := g.p
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return fmt.Errorf("sitemap publish: %w", err)
	}
	var uploaded []string
	fail := func(err error) error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, k := range uploaded {
			if derr := p.shared.Objects.Delete(dctx, k); derr != nil {
				p.log.Warn("sitemap: remove an unpublished object", "key", k, "err", derr)
			}
		}
		return fmt.Errorf("sitemap publish: %w", err)
	}
	// Children first, the index last: a listing that shows the index
	// shows a complete generation (the pointer is what readers follow).
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && e.Name() != IndexFile {
			names = append(names, e.Name())
		}
	}
	names = append(names, IndexFile)
	for _, name := range names {
		if err := p.upload(ctx, g, name); err != nil {
			return fail(err)
		}
		uploaded = append(uploaded, objectKey(g.id, name))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	prev, err := p.shared.Pointer.SwapSitemapLive(ctx, g.id, p.now())
	if err != nil {
		return fail(err)
	}
	p.mu.Lock()
	g.done = true
	delete(p.building, g.id)
	p.mu.Unlock()
	p.log.Info("sitemap generation published", "generation", g.id, "previous", prev, "files", len(names))
	if err := os.RemoveAll(g.dir); err != nil {
		p.log.Warn("sitemap: remove the local copy", "generation", g.id, "err", err)
	}
	if _, err := p.gcShared(ctx, g.id, prev); err != nil {
		p.log.Warn("sitemap gc", "err", err)
	}
	return nil
}

func (p *Publisher) upload(ctx context.Context, g *Generation, name string) error {
	f, err := os.Open(filepath.Join(g.dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	ctype := ChildContentType
	if name == IndexFile {
		ctype = IndexContentType
	}
	return p.shared.Objects.Put(ctx, objectKey(g.id, name), f, ctype)
}

// gcShared deletes from Objects every generation other than live, prev
// and those this Publisher is building, once older than the grace period,
// and removes local leftovers of crashed builds. It returns the ids
// removed from Objects.
func (p *Publisher) gcShared(ctx context.Context, live, prev string) ([]string, error) {
	keys, err := p.shared.Objects.List(ctx, objectsPrefix)
	if err != nil {
		return nil, fmt.Errorf("sitemap gc: %w", err)
	}
	byGen := map[string][]string{}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, objectsPrefix)
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, "/")
		if genIDRE.MatchString(id) {
			byGen[id] = append(byGen[id], k)
		}
	}
	p.mu.Lock()
	building := make(map[string]bool, len(p.building))
	for id := range p.building {
		building[id] = true
	}
	p.mu.Unlock()
	grace := p.shared.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	now := p.now()
	var removed []string
	var errs []error
	for id, ks := range byGen {
		t, ok := generationTime(id)
		if id == live || id == prev || building[id] || !ok || now.Sub(t) < grace {
			continue
		}
		failed := false
		for _, k := range ks {
			if err := p.shared.Objects.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				failed = true
			}
		}
		if !failed {
			removed = append(removed, id)
			p.log.Info("sitemap generation removed", "generation", id)
		}
	}
	errs = append(errs, p.gcLocalLeftovers(building))
	return removed, errors.Join(errs...)
}

// gcLocalLeftovers removes local generation directories that no build of
// this Publisher owns: with Shared, a local directory is only a staging
// copy, so any other is left by a crash.
func (p *Publisher) gcLocalLeftovers(building map[string]bool) error {
	ents, err := os.ReadDir(p.dir)
	if err != nil {
		return fmt.Errorf("sitemap gc: %w", err)
	}
	var errs []error
	for _, e := range ents {
		id, ok := strings.CutPrefix(e.Name(), genPrefix)
		if !ok || !e.IsDir() || building[id] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(p.dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// openShared reads name of generation l from Objects into memory (a child
// is at most a few MB gzipped), so that it can be served with ranges and
// conditional requests.
func (p *Publisher) openShared(ctx context.Context, l Live, name string) (io.ReadSeekCloser, time.Time, error) {
	rc, err := p.shared.Objects.Open(ctx, objectKey(l.ID, name))
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, time.Time{}, err
	}
	mod, _ := generationTime(l.ID)
	return nopSeekCloser{bytes.NewReader(b)}, mod, nil
}

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

// Open returns file name of generation l (from the local directory, or
// from Objects with Shared) and its modification time; a missing file is
// fs.ErrNotExist. name must match the generation's file names.
func (p *Publisher) Open(ctx context.Context, l Live, name string) (io.ReadSeekCloser, time.Time, error) {
	if !fileNameRE.MatchString(name) {
		return nil, time.Time{}, fs.ErrNotExist
	}
	if l.shared {
		return p.openShared(ctx, l, name)
	}
	f, err := os.Open(filepath.Join(l.Dir, name))
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, time.Time{}, fs.ErrNotExist
	}
	return f, st.ModTime(), nil
}

// Fingerprint fingerprints generation l wherever it is stored.
func (p *Publisher) Fingerprint(ctx context.Context, l Live) (Fingerprint, error) {
	if !l.shared {
		return FingerprintDir(l.Dir, l.ID)
	}
	keys, err := p.shared.Objects.List(ctx, objectsPrefix+l.ID+"/")
	if err != nil {
		return Fingerprint{}, fmt.Errorf("fingerprint %s: %w", l.ID, err)
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, k[strings.LastIndexByte(k, '/')+1:])
	}
	return fingerprintFiles(l.ID, names, func(name string) (io.ReadCloser, error) {
		return p.shared.Objects.Open(ctx, objectKey(l.ID, name))
	})
}
