// Package site serves Atlas's public HTML pages at the URLs the sitemap
// lists: the home page, a city's salons, a salon, the posts and a post.
// Pages are html/template, server-rendered with their CSS embedded and
// inlined (no JavaScript), each with a title, a meta description, a
// canonical URL equal to its sitemap <loc>, Open Graph tags and JSON-LD.
// Responses carry a strong ETag (and Last-Modified where the sitemap has a
// lastmod) and answer conditional requests with 304; Cache-Control lets a
// CDN keep them. Page data goes through the shared read cache.
package site

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sevra/atlas/internal/sitemap"
	"github.com/sevra/atlas/internal/store"
)

//go:embed templates/*.html assets/*
var files embed.FS

// Cache is the read-through cache pages are read through;
// *cache.Memory and *cache.Redis implement it.
type Cache interface {
	GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
	Delete(ctx context.Context, keys ...string) error
}

// PostSlugs resolves old post slugs; *seo.Redirects implements it.
type PostSlugs interface {
	ResolvePostSlug(ctx context.Context, slug string) (string, bool, error)
}

// ViewRecorder counts post views (write-behind); *views.Service
// implements it.
type ViewRecorder interface {
	Record(ctx context.Context, postID int64, method, userAgent string) error
}

// Config configures the pages.
type Config struct {
	// Store is read for every page. Required.
	Store Store
	// BaseURL is the public origin the sitemap uses (ATLAS_BASE_URL);
	// canonical URLs are built from it exactly as the sitemap builds <loc>.
	// Required.
	BaseURL string
	// Cache holds page data for TTL; nil or TTL <= 0 reads the store on
	// every request. Invalidate (an seo.CacheInvalidator) retires it.
	Cache Cache
	TTL   time.Duration
	// Posts resolves old post slugs (301); nil: old slugs are 404.
	Posts PostSlugs
	// Views counts a view of every post page served (nil: not counted),
	// as GET /api/v1/posts/{slug} does.
	Views ViewRecorder
	// MediaURL turns a stored variant key into its URL; default "/" + key.
	MediaURL func(key string) string
	// SiteName is shown in titles; default "Atlas".
	SiteName string
	Logger   *slog.Logger
	// Now is the clock that decides which posts are published; default
	// time.Now.
	Now func() time.Time
}

// Server renders the pages.
type Server struct {
	cfg   Config
	base  sitemap.BaseURL
	read  reader
	log   *slog.Logger
	pages map[string]*template.Template
	css   template.CSS
	icon  []byte
	ph    placeholders
	memo  struct {
		mu sync.Mutex
		m  map[string]*rendition
	}
}

// Page sizes.
const (
	salonsPerPage  = 24
	reviewsPerPage = 10
	postsPerPage   = 12
	homeSalons     = 12
)

// New parses the templates and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("site: Store is required")
	}
	base, err := sitemap.ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MediaURL == nil {
		cfg.MediaURL = func(key string) string { return "/" + key }
	}
	if cfg.SiteName == "" {
		cfg.SiteName = "Atlas"
	}
	s := &Server{cfg: cfg, base: base, read: reader{st: cfg.Store}, log: cfg.Logger, pages: map[string]*template.Template{}}
	css, err := fs.ReadFile(files, "assets/site.css")
	if err != nil {
		return nil, err
	}
	s.css = template.CSS(css)
	if s.icon, err = fs.ReadFile(files, "assets/favicon.svg"); err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"dir":      textDir,
		"inc":      func(i int) int { return i + 1 },
		"stars":    stars,
		"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"rating":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"salonURL": func(slug string) string { return "/salons/" + pathEscape(slug) },
		"cityURL":  func(slug string) string { return "/cities/" + pathEscape(slug) },
		"postURL":  func(slug string) string { return "/posts/" + pathEscape(slug) },
	}
	for _, name := range []string{"home", "city", "salon", "posts", "post", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("site template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// BaseURL returns the validated public base URL.
func (s *Server) BaseURL() sitemap.BaseURL { return s.base }

// Icon serves the favicon (GET /favicon.svg).
func (s *Server) Icon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write(s.icon)
	})
}

// Cache-Control values. Listing pages may be kept by a CDN for a few
// minutes and served stale while it revalidates; post pages are
// revalidated at the origin on every request (a 304 is cheap), so each
// view is counted.
const (
	cacheListing = "public, max-age=60, s-maxage=300, stale-while-revalidate=600, stale-if-error=86400"
	cachePost    = "public, no-cache"
	cacheError   = "public, max-age=60"
)

// page is what every template receives.
type page struct {
	Site        string
	Title       string
	Description string
	Canonical   string
	Lang, Dir   string
	OGType      string
	OGImage     string
	JSONLD      []template.JS
	CSS         template.CSS
	Crumbs      []crumb
	Updated     time.Time
	Data        any
	// memo is the cached data the page was rendered from (nil: do not
	// memoise the rendering).
	memo []byte
}

// crumb is one breadcrumb: URL is absolute (JSON-LD), Path the link.
type crumb struct{ Name, URL string }

// Path is the crumb's root-relative link, so the pages work on any host
// (a development address, a CDN's origin name).
func (c crumb) Path() string {
	if i := strings.Index(c.URL, "://"); i >= 0 {
		if j := strings.IndexByte(c.URL[i+3:], '/'); j >= 0 {
			return c.URL[i+3+j:]
		}
		return "/"
	}
	return c.URL
}

// rendition is one rendered page, in both encodings, with its
// validators.
type rendition struct {
	data         []byte // the cached data it was rendered from
	status       int
	body, gz     []byte
	etag         string // of body; gz's is etag with "-gz"
	lastMod      time.Time
	cacheControl string
}

// maxMemo bounds the memo of renditions (about 30 KB each); past it an
// arbitrary entry makes room.
const maxMemo = 4096

// render executes a page template and writes it with validators: a 304
// when the request's If-None-Match (or, without one, If-Modified-Since)
// matches. A 200 rendered from cached data (p.memo) is kept, so the next
// request whose cached data are the same bytes skips decoding, rendering,
// hashing and compressing.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page, cacheControl string, lastMod time.Time) {
	p.Site, p.CSS = s.cfg.SiteName, s.css
	if p.Lang == "" {
		p.Lang, p.Dir = "en", "ltr"
	}
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, p); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	body := buf.Bytes()
	sum := sha256.Sum256(body)
	rd := &rendition{status: status, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`,
		lastMod: lastMod, cacheControl: cacheControl}
	if status == http.StatusOK && p.memo != nil {
		rd.data, rd.gz = p.memo, gzipped(body)
		key := r.URL.RequestURI()
		s.memo.mu.Lock()
		if s.memo.m == nil {
			s.memo.m = map[string]*rendition{}
		}
		if len(s.memo.m) >= maxMemo {
			for k := range s.memo.m {
				delete(s.memo.m, k)
				break
			}
		}
		s.memo.m[key] = rd
		s.memo.mu.Unlock()
	}
	s.write(w, r, rd)
}

// memoHit serves the memoised rendition of r's URL when it was rendered
// from exactly data; it reports whether it answered.
func (s *Server) memoHit(w http.ResponseWriter, r *http.Request, data []byte) bool {
	if data == nil {
		return false
	}
	s.memo.mu.Lock()
	rd := s.memo.m[r.URL.RequestURI()]
	s.memo.mu.Unlock()
	if rd == nil || !bytes.Equal(rd.data, data) {
		return false
	}
	s.write(w, r, rd)
	return true
}

// write sends rd in the encoding the client takes.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rd *rendition) {
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", rd.cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	body, etag := rd.body, rd.etag
	gz := acceptsGzip(r)
	if gz {
		// Each encoding is its own representation with its own strong
		// ETag; a CDN caches both (Vary).
		etag = etag[:len(etag)-1] + `-gz"`
	}
	if rd.status == http.StatusOK {
		h.Set("ETag", etag)
		if !rd.lastMod.IsZero() {
			h.Set("Last-Modified", rd.lastMod.UTC().Format(http.TimeFormat))
		}
		if notModified(r, etag, rd.lastMod) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if gz {
		if body = rd.gz; body == nil {
			body = gzipped(rd.body)
		}
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rd.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// notModified applies RFC 9110's precedence: If-None-Match when present,
// else If-Modified-Since against the second-truncated Last-Modified.
func notModified(r *http.Request, etag string, lastMod time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !lastMod.IsZero() {
		if t, err := http.ParseTime(ims); err == nil {
			return !lastMod.UTC().Truncate(time.Second).After(t)
		}
	}
	return false
}

// fail answers an error as an HTML page: 404 for unknown pages, 500
// (without detail) otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errNoPage) {
		s.notFound(w, r)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.ErrorContext(r.Context(), "page", "path", r.URL.Path, "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		"The page could not be shown. Please try again in a moment.", "no-store")
}

// errNoPage is a page number past the end of a list.
var errNoPage = errors.New("no such page")

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "Page not found",
		"There is no page at this address. Browse the cities or the latest posts instead.", cacheError)
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, title, text, cacheControl string) {
	s.render(w, r, status, "error", page{Title: title, Description: text,
		Data: struct {
			Status        int
			Heading, Text string
		}{status, title, text}}, cacheControl, time.Time{})
}

// NotFound answers every path no other route serves with the HTML 404.
func (s *Server) NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.notFound(w, r) })
}

// redirect answers 301 to path (with the request's query), as an
// absolute canonical-origin URL.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, segments ...string) {
	loc := s.base.Join(segments...)
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Cache-Control", cacheListing)
	http.Redirect(w, r, loc, http.StatusMovedPermanently)
}

// pageParam reads ?page= (default 1); anything but a positive integer is
// a missing page.
func pageParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100000 || strconv.Itoa(n) != v {
		return 0, errNoPage
	}
	return n, nil
}

// textDir returns the lang and dir attributes of a piece of content.
func textDir(s string) template.HTMLAttr {
	if isPersian(s) {
		return `lang="fa" dir="rtl"`
	}
	return `dir="auto"`
}

// stars renders a rating (0–5, an int or a float) as text: "★★★★☆".
func stars(v any) string {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	}
	n := int(f + 0.5)
	n = max(0, min(5, n))
	return strings.Repeat("★", n) + strings.Repeat("☆", 5-n)
}

func pathEscape(s string) string {
	return strings.TrimPrefix(sitemap.BaseURL{}.Join(s), "/")
}

// acceptsGzip reports whether the client takes gzip (q=0 refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
			return err == nil && f > 0
		}
		return true
	}
	return false
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// gzipped compresses b at gzip's fastest level (HTML compresses about
// 5:1 even so).
func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	gzipWriters.Put(zw)
	return out.Bytes()
}
