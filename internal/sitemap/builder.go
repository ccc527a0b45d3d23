package sitemap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// DefaultPageSize is how many rows one keyset page reads.
const DefaultPageSize = 5_000

// ErrRebuildRunning is returned by Rebuild while another rebuild runs in
// the same Builder.
var ErrRebuildRunning = errors.New("sitemap rebuild already running")

// Paths turns slugs and storage keys into absolute URLs. Nil fields take
// the defaults shown.
type Paths struct {
	// Salon: <base>/salons/<slug>. citySlug is there for layouts that
	// nest salons under their city.
	Salon func(base BaseURL, slug, citySlug string) string
	// City: <base>/cities/<slug>.
	City func(base BaseURL, slug string) string
	// Post: <base>/posts/<slug>.
	Post func(base BaseURL, slug string) string
	// Media: <base>/media/<key>, the stored-file route.
	Media func(base BaseURL, key string) string
}

func (p Paths) withDefaults() Paths {
	if p.Salon == nil {
		p.Salon = func(b BaseURL, slug, _ string) string { return b.Join("salons", slug) }
	}
	if p.City == nil {
		p.City = func(b BaseURL, slug string) string { return b.Join("cities", slug) }
	}
	if p.Post == nil {
		p.Post = func(b BaseURL, slug string) string { return b.Join("posts", slug) }
	}
	if p.Media == nil {
		p.Media = func(b BaseURL, key string) string { return b.JoinKey("media", key) }
	}
	return p
}

// Config configures a Builder.
type Config struct {
	// DB is read with keyset-paginated queries. Required.
	DB DB
	// Publisher receives the generations. Required.
	Publisher *Publisher
	// BaseURL is the public origin every URL starts with, such as
	// "https://atlas.example". Required; validated by ParseBaseURL.
	BaseURL string
	// Logger; default discards.
	Logger *slog.Logger
	// PageSize is the rows per keyset page; default DefaultPageSize.
	PageSize int
	// Limits per child file; defaults DefaultMaxURLs and DefaultMaxBytes.
	Limits Limits
	// Paths builds URLs; defaults as documented on Paths.
	Paths Paths
	// NoImages leaves image:image entries out of the salon sitemaps;
	// default false (images of salons with ready media are listed).
	NoImages bool
	// Now is the clock that decides which posts are published; default
	// time.Now.
	Now func() time.Time
}

// Builder rebuilds the sitemap. It is safe for concurrent use; concurrent
// Rebuild calls on one Builder fail fast with ErrRebuildRunning.
type Builder struct {
	cfg     Config
	base    BaseURL
	log     *slog.Logger
	read    reader
	running sync.Mutex
}

// NewBuilder validates cfg and returns a Builder.
func NewBuilder(cfg Config) (*Builder, error) {
	if cfg.DB == nil || cfg.Publisher == nil {
		return nil, errors.New("sitemap builder: DB and Publisher are required")
	}
	base, err := ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("sitemap builder: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Limits = cfg.Limits.withDefaults()
	cfg.Paths = cfg.Paths.withDefaults()
	return &Builder{cfg: cfg, base: base, log: cfg.Logger, read: reader{db: cfg.DB.DB(), d: cfg.DB.Dialect()}}, nil
}

// Publisher returns the publisher the builder writes to.
func (b *Builder) Publisher() *Publisher { return b.cfg.Publisher }

// BaseURL returns the validated base URL.
func (b *Builder) BaseURL() BaseURL { return b.base }

// Stats describes one rebuild. Durations encode in JSON as nanoseconds.
type Stats struct {
	// Generation is the id of the published generation.
	Generation string `json:"generation"`
	// URLs listed per section, and image entries in the salon section.
	Salons int64 `json:"salons"`
	Cities int64 `json:"cities"`
	Posts  int64 `json:"posts"`
	Images int64 `json:"images"`
	// Skipped counts rows whose URL could not be listed (too long).
	Skipped int64 `json:"skipped"`
	// Files is the number of child sitemaps; Bytes their uncompressed
	// total.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Pages is the number of keyset page queries; MaxPageQuery the
	// slowest of them (query and reading its rows).
	Pages        int           `json:"pages"`
	MaxPageQuery time.Duration `json:"max_page_query_ns"`
	// Duration of the whole rebuild.
	Duration time.Duration `json:"duration_ns"`
}

// section is one kind of page in the sitemap.
type section struct {
	name   string
	images bool
	count  *int64
	stream func(ctx context.Context, w *URLSetWriter, st *Stats, tick func(int)) (int64, error)
}

// Rebuild streams every listed page into a new generation and publishes it.
// progress, if not nil, is called after each page with the rows done and
// an estimated total. On any error, including cancellation, the new
// generation is discarded and the previous sitemap stays live.
func (b *Builder) Rebuild(ctx context.Context, progress func(done, total int64)) (Stats, error) {
	st, _, err := b.build(ctx, progress, true)
	return st, err
}

// BuildSide builds a complete generation exactly as Rebuild does but never
// publishes it: the live sitemap is untouched. The caller compares it
// (shadow mode) and must call Abort on it, which deletes it.
func (b *Builder) BuildSide(ctx context.Context, progress func(done, total int64)) (Stats, *Generation, error) {
	return b.build(ctx, progress, false)
}

func (b *Builder) build(ctx context.Context, progress func(done, total int64), publish bool) (Stats, *Generation, error) {
	if !b.running.TryLock() {
		return Stats{}, nil, ErrRebuildRunning
	}
	defer b.running.Unlock()
	st, gen, err := b.buildLocked(ctx, progress, publish)
	if err != nil && gen != nil {
		gen.Abort()
		gen = nil
	}
	return st, gen, err
}

func (b *Builder) buildLocked(ctx context.Context, progress func(done, total int64), publish bool) (Stats, *Generation, error) {
	start := time.Now()
	now := b.cfg.Now()
	var st Stats
	total, err := b.total(ctx, now)
	if err != nil {
		return st, nil, fmt.Errorf("sitemap rebuild: %w", err)
	}
	gen, err := b.cfg.Publisher.Begin()
	if err != nil {
		return st, nil, fmt.Errorf("sitemap rebuild: %w", err)
	}
	st.Generation = gen.ID()
	var done int64
	tick := func(n int) {
		done += int64(n)
		if progress != nil {
			progress(done, max(total, done))
		}
	}
	sections := []section{
		{"salons", !b.cfg.NoImages, &st.Salons, b.streamSalons},
		{"cities", false, &st.Cities, b.streamCities},
		{"posts", false, &st.Posts, func(ctx context.Context, w *URLSetWriter, st *Stats, tick func(int)) (int64, error) {
			return b.streamPosts(ctx, now, w, st, tick)
		}},
	}
	var index []IndexEntry
	for _, s := range sections {
		w := NewURLSetWriter(gen, childName(s.name, gen.ID()), b.cfg.Limits, s.images)
		n, err := s.stream(ctx, w, &st, tick)
		if err != nil {
			w.Abort()
			return st, gen, fmt.Errorf("sitemap rebuild %s: %w", s.name, err)
		}
		files, err := w.Close()
		if err != nil {
			return st, gen, fmt.Errorf("sitemap rebuild %s: %w", s.name, err)
		}
		*s.count = n
		for _, f := range files {
			st.Files++
			st.Bytes += f.Bytes
			index = append(index, IndexEntry{Loc: b.base.Join("sitemaps", f.Name), LastMod: f.LastMod})
		}
	}
	writeIndex := func(w io.Writer) error { return WriteIndex(w, index) }
	if !publish {
		if err := gen.Seal(writeIndex); err != nil {
			return st, gen, fmt.Errorf("sitemap side build: %w", err)
		}
		st.Duration = time.Since(start)
		b.log.Info("sitemap side generation built", "generation", st.Generation, "files", st.Files, "duration", st.Duration)
		return st, gen, nil
	}
	if err := gen.Commit(ctx, writeIndex); err != nil {
		return st, gen, fmt.Errorf("sitemap rebuild: %w", err)
	}
	st.Duration = time.Since(start)
	b.log.Info("sitemap rebuilt", "generation", st.Generation, "salons", st.Salons, "cities", st.Cities,
		"posts", st.Posts, "images", st.Images, "files", st.Files, "bytes", st.Bytes, "skipped", st.Skipped,
		"pages", st.Pages, "max_page_query", st.MaxPageQuery, "duration", st.Duration)
	return st, gen, nil
}

// childName names child n of a section in generation id, such as
// "salons-3-20250601T000000Z-0a1b2c3d.xml.gz". The generation id in the
// name keeps an index from pointing at another generation's child.
func childName(section, id string) func(n int) string {
	return func(n int) string { return fmt.Sprintf("%s-%d-%s.xml.gz", section, n, id) }
}

// total estimates the rows a rebuild lists, for progress reporting.
func (b *Builder) total(ctx context.Context, now time.Time) (int64, error) {
	var sum int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"SELECT count(*) FROM salons", nil},
		{"SELECT count(*) FROM cities", nil},
		{"SELECT count(*) FROM posts WHERE " + postsPublished, []any{now.UTC()}},
	} {
		n, err := b.read.count(ctx, q.sql, q.args...)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// timed runs one page query and records its duration.
func timed[T any](st *Stats, fn func() ([]T, error)) ([]T, error) {
	t := time.Now()
	rows, err := fn()
	st.Pages++
	st.MaxPageQuery = max(st.MaxPageQuery, time.Since(t))
	return rows, err
}

// add writes one URL, counting an unlistable one as skipped.
func (b *Builder) add(w *URLSetWriter, st *Stats, u URL) (bool, error) {
	err := w.Add(u)
	if errors.Is(err, ErrInvalidURL) {
		st.Skipped++
		b.log.Debug("sitemap: URL skipped", "err", err)
		return false, nil
	}
	return err == nil, err
}
