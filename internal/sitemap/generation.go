package sitemap

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ErrNoSitemap is returned when no generation has been published yet.
var ErrNoSitemap = errors.New("no sitemap published yet")

// IndexFile is the name of the sitemap index inside a generation.
const IndexFile = "sitemap.xml"

const (
	pointerFile = "current"
	pointerTmp  = "current.tmp"
	genPrefix   = "gen-"
)

var (
	genIDRE    = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)
	fileNameRE = regexp.MustCompile(`^[a-z0-9][a-zA-Z0-9-]*\.xml(\.gz)?$`)
)

// PublisherOptions tunes a Publisher. A nil *PublisherOptions takes every
// default.
type PublisherOptions struct {
	// Logger receives GC and publish events; default discards.
	Logger *slog.Logger
	// Now is the clock used in generation ids; default time.Now.
	Now func() time.Time
	// Rand supplies the random part of generation ids; default
	// crypto/rand.Reader.
	Rand io.Reader
	// Shared, when set, publishes generations to storage and a pointer
	// every node reads (see Shared); nil keeps them in the data dir, for
	// a single node.
	Shared *Shared
}

// Publisher owns the generations under <dataDir>/sitemaps/. It is safe for
// concurrent use; cross-process exclusion of builds is the SEO service's
// database lease (see internal/seo: Service.RebuildNow and the
// rebuild-sitemap job).
type Publisher struct {
	dir  string
	log  *slog.Logger
	now  func() time.Time
	rand io.Reader
	// shared is nil for a single node.
	shared *Shared
	// fs creates, fsyncs and renames the local files; osFS but in tests.
	fs fileSystem

	mu       sync.Mutex // serialises switches and GC, guards building
	building map[string]bool
}

// NewPublisher returns a Publisher rooted at <dataDir>/sitemaps, creating
// the directory if needed.
func NewPublisher(dataDir string, o *PublisherOptions) (*Publisher, error) {
	if dataDir == "" {
		return nil, errors.New("sitemap publisher: empty data dir")
	}
	var opts PublisherOptions
	if o != nil {
		opts = *o
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if sh := opts.Shared; sh != nil && (sh.Objects == nil || sh.Pointer == nil) {
		return nil, errors.New("sitemap publisher: Shared needs Objects and Pointer")
	}
	dir := filepath.Join(dataDir, "sitemaps")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sitemap publisher: %w", err)
	}
	return &Publisher{dir: dir, log: opts.Logger, now: opts.Now, rand: opts.Rand, shared: opts.Shared,
		fs: osFS{}, building: map[string]bool{}}, nil
}

// Dir returns the local directory holding the generations (with Shared,
// only those being built).
func (p *Publisher) Dir() string { return p.dir }

// Live is the published generation readers use.
type Live struct {
	// ID is the generation id; child file names end with it.
	ID string
	// Dir is the generation's directory; "" when it is in shared storage.
	Dir string
	// Previous is the id of the generation live before this one, if any.
	Previous string
	// shared: the files are in Shared.Objects.
	shared bool
}

// liveTimeout bounds Live's read of a shared pointer.
const liveTimeout = 5 * time.Second

// Live resolves the live generation, or returns ErrNoSitemap. With Shared
// it reads the shared pointer within liveTimeout; LiveContext takes the
// caller's context.
func (p *Publisher) Live() (Live, error) {
	ctx, cancel := context.WithTimeout(context.Background(), liveTimeout)
	defer cancel()
	return p.LiveContext(ctx)
}

// LiveContext is Live under ctx.
func (p *Publisher) LiveContext(ctx context.Context) (Live, error) {
	if p.shared != nil {
		return p.liveShared(ctx)
	}
	b, err := os.ReadFile(filepath.Join(p.dir, pointerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Live{}, ErrNoSitemap
	}
	if err != nil {
		return Live{}, fmt.Errorf("sitemap pointer: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !genIDRE.MatchString(lines[0]) {
		return Live{}, fmt.Errorf("sitemap pointer: bad generation id %q", lines[0])
	}
	l := Live{ID: lines[0], Dir: filepath.Join(p.dir, genPrefix+lines[0])}
	if len(lines) > 1 && genIDRE.MatchString(lines[1]) {
		l.Previous = lines[1]
	}
	return l, nil
}

// Generation is a sitemap being built in its own directory. Nothing in it
// is visible to readers until Commit switches the live pointer.
type Generation struct {
	p    *Publisher
	id   string
	dir  string
	done bool
}

// Begin creates a fresh, empty generation directory.
func (p *Publisher) Begin() (*Generation, error) {
	var r [4]byte
	if _, err := io.ReadFull(p.rand, r[:]); err != nil {
		return nil, fmt.Errorf("sitemap generation id: %w", err)
	}
	id := p.now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:])
	dir := filepath.Join(p.dir, genPrefix+id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sitemap generation: %w", err)
	}
	p.mu.Lock()
	p.building[id] = true
	p.mu.Unlock()
	return &Generation{p: p, id: id, dir: dir}, nil
}

// ID returns the generation id.
func (g *Generation) ID() string { return g.id }

// Create creates a file in the generation. The file is fsynced on Close.
func (g *Generation) Create(name string) (io.WriteCloser, error) {
	if g.done {
		return nil, errors.New("sitemap generation: create after commit or abort")
	}
	if !fileNameRE.MatchString(name) {
		return nil, fmt.Errorf("sitemap generation: bad file name %q", name)
	}
	f, err := g.p.fs.OpenFile(filepath.Join(g.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sitemap generation: %w", err)
	}
	return &syncFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Commit writes the index with writeIndex (after every child is closed),
// makes the generation durable, switches the live pointer to it and
// garbage-collects generations other than the new live one and the one it
// replaces. Cancelling ctx before the switch leaves the old sitemap live.
func (g *Generation) Commit(ctx context.Context, writeIndex func(io.Writer) error) error {
	if g.done {
		return errors.New("sitemap generation: commit after commit or abort")
	}
	f, err := g.Create(IndexFile)
	if err != nil {
		return err
	}
	if err := writeIndex(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sitemap index: %w", err)
	}
	if err := g.p.syncDir(g.dir); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sitemap publish: %w", err)
	}
	if g.p.shared != nil {
		return g.publishShared(ctx)
	}
	p := g.p
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := ""
	if l, err := p.Live(); err == nil {
		prev = l.ID
	} else if !errors.Is(err, ErrNoSitemap) {
		p.log.Warn("sitemap pointer unreadable; replacing it", "err", err)
	}
	// A foreign GC (another process) may have removed the directory; never
	// point readers at a generation that is not complete on disk.
	if _, err := os.Stat(filepath.Join(g.dir, IndexFile)); err != nil {
		return fmt.Errorf("sitemap publish: %w", err)
	}
	if err := p.writePointer(g.id, prev); err != nil {
		return err
	}
	g.done = true
	delete(p.building, g.id)
	p.log.Info("sitemap generation published", "generation", g.id, "previous", prev)
	if _, err := p.gcLocked(); err != nil {
		p.log.Warn("sitemap gc", "err", err)
	}
	return nil
}

// Dir returns the generation's directory.
func (g *Generation) Dir() string { return g.dir }

// Seal writes the index with writeIndex and makes the generation durable
// without publishing it: a side generation for a shadow comparison. It
// stays out of GC (in this process) until Abort removes it.
func (g *Generation) Seal(writeIndex func(io.Writer) error) error {
	if g.done {
		return errors.New("sitemap generation: seal after commit or abort")
	}
	f, err := g.Create(IndexFile)
	if err != nil {
		return err
	}
	if err := writeIndex(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sitemap index: %w", err)
	}
	return g.p.syncDir(g.dir)
}

// Abort removes the unpublished generation. It is safe to call after
// Commit, where it does nothing.
func (g *Generation) Abort() error {
	if g.done {
		return nil
	}
	g.done = true
	g.p.mu.Lock()
	delete(g.p.building, g.id)
	g.p.mu.Unlock()
	if err := os.RemoveAll(g.dir); err != nil {
		return fmt.Errorf("sitemap generation abort: %w", err)
	}
	return nil
}

// writePointer atomically replaces the pointer file: write current.tmp,
// fsync it, rename it over current, fsync the directory.
func (p *Publisher) writePointer(live, prev string) error {
	tmp := filepath.Join(p.dir, pointerTmp)
	content := live + "\n"
	if prev != "" && prev != live {
		content += prev + "\n"
	}
	f, err := p.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("sitemap pointer: %w", err)
	}
	_, err = io.WriteString(f, content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.fs.Rename(tmp, filepath.Join(p.dir, pointerFile))
	}
	if err != nil {
		return fmt.Errorf("sitemap pointer: %w", err)
	}
	return p.syncDir(p.dir)
}

// GC removes every generation directory other than the live one, the
// previous one and those being built by this Publisher, and returns the
// ids removed. Leftovers of crashed builds go this way. With Shared it
// removes generations from Objects as Shared.Grace says, and every local
// directory not being built.
func (p *Publisher) GC() ([]string, error) {
	if p.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		l, err := p.liveShared(ctx)
		if err != nil {
			return nil, err
		}
		return p.gcShared(ctx, l.ID, l.Previous)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gcLocked()
}

func (p *Publisher) gcLocked() ([]string, error) {
	l, err := p.Live()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p.dir)
	if err != nil {
		return nil, fmt.Errorf("sitemap gc: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		id, ok := strings.CutPrefix(e.Name(), genPrefix)
		if !ok || !e.IsDir() || id == l.ID || id == l.Previous || p.building[id] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(p.dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, id)
		p.log.Info("sitemap generation removed", "generation", id)
	}
	return removed, errors.Join(errs...)
}

// syncFile buffers writes and fsyncs the file on Close.
type syncFile struct {
	f syncWriter
	w *bufio.Writer
}

func (s *syncFile) Write(b []byte) (int, error) { return s.w.Write(b) }

func (s *syncFile) Close() error {
	err := s.w.Flush()
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sitemap file %s: %w", filepath.Base(s.f.Name()), err)
	}
	return nil
}

// syncDir fsyncs a directory so renames and new entries in it are durable.
func (p *Publisher) syncDir(dir string) error {
	d, err := p.fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
