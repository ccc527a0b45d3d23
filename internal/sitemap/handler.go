package sitemap

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
)

// CacheControl is sent with every sitemap response.
const CacheControl = "public, max-age=3600"

// Content types of the served files.
const (
	IndexContentType  = "application/xml; charset=utf-8"
	ChildContentType  = "application/gzip"
	RobotsContentType = "text/plain; charset=utf-8"
)

// HandlerConfig configures Handler.
type HandlerConfig struct {
	// Publisher resolves the live generation. Required.
	Publisher *Publisher
	// BaseURL is the public base the robots.txt Sitemap line uses.
	// Required.
	BaseURL BaseURL
	// Robots are extra robots.txt lines (such as "Disallow: /api/")
	// written under "User-agent: *"; default none (allow everything).
	Robots []string
	// Logger receives unexpected errors; default discards.
	Logger *slog.Logger
}

// Handler serves GET/HEAD /sitemap.xml (the live index), /sitemaps/{file}
// (its gzipped children) and /robots.txt. Each request resolves the live
// generation once and serves from it only, so a reader never mixes
// generations. Register it for exactly those three paths, for example:
//
//	h := sitemap.Handler(cfg)
//	mux.Handle("GET /sitemap.xml", h)
//	mux.Handle("GET /sitemaps/{file}", h)
//	mux.Handle("GET /robots.txt", h)
func Handler(cfg HandlerConfig) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	robots := robotsTxt(cfg.BaseURL, cfg.Robots)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch p := r.URL.Path; {
		case p == "/robots.txt":
			w.Header().Set("Content-Type", RobotsContentType)
			w.Header().Set("Cache-Control", CacheControl)
			if r.Method == http.MethodGet {
				w.Write([]byte(robots))
			}
		case p == "/sitemap.xml":
			serveFile(w, r, cfg.Publisher, log, IndexFile, IndexContentType)
		case strings.HasPrefix(p, "/sitemaps/"):
			name := strings.TrimPrefix(p, "/sitemaps/")
			if !fileNameRE.MatchString(name) || !strings.HasSuffix(name, ".xml.gz") {
				http.Error(w, "no such sitemap", http.StatusNotFound)
				return
			}
			serveFile(w, r, cfg.Publisher, log, name, ChildContentType)
		default:
			http.NotFound(w, r)
		}
	})
}

// serveFile serves name from the live generation.
func serveFile(w http.ResponseWriter, r *http.Request, p *Publisher, log *slog.Logger, name, ctype string) {
	live, err := p.LiveContext(r.Context())
	if errors.Is(err, ErrNoSitemap) {
		http.Error(w, "sitemap not generated yet", http.StatusNotFound)
		return
	}
	if err != nil {
		log.Error("sitemap: resolve live generation", "err", err)
		http.Error(w, "sitemap unavailable", http.StatusServiceUnavailable)
		return
	}
	// name matched fileNameRE (no separators, no dot segments), so it
	// cannot leave the generation.
	f, mod, err := p.Open(r.Context(), live, name)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no such sitemap", http.StatusNotFound)
		return
	}
	if err != nil {
		log.Error("sitemap: open", "file", name, "generation", live.ID, "err", err)
		http.Error(w, "sitemap unavailable", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", CacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent sets Last-Modified and answers If-Modified-Since and
	// Range requests.
	http.ServeContent(w, r, name, mod, f)
}

// robotsTxt renders robots.txt pointing at the sitemap index.
func robotsTxt(base BaseURL, extra []string) string {
	var b strings.Builder
	b.WriteString("User-agent: *\n")
	if len(extra) == 0 {
		b.WriteString("Disallow:\n")
	}
	for _, l := range extra {
		b.WriteString(strings.TrimSpace(l) + "\n")
	}
	fmt.Fprintf(&b, "\nSitemap: %s\n", base.Join("sitemap.xml"))
	return b.String()
}
