package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sevra/atlas/internal/cache"
	"github.com/sevra/atlas/internal/store"
)

// A post page is read on every view, so GET /api/v1/posts/{slug} goes
// through the read cache too, keyed by the slug in the URL. The cached
// value is the rendered answer, so that a hit costs no database query and
// no JSON decoding and encoding:
//
//	"200 <post id>\n<JSON body>"   the post (published when loaded)
//	"301 <current slug>\n"         an old slug of a published post
//
// A missing, draft or scheduled post is an error and is never cached, so a
// scheduled post appears when it is published. What a cached answer can
// hide, and who deletes it (CacheInvalidator, entity "post", every slug
// that leads to the post):
//   - a rename (seo.Redirects.RenamePost invalidates after its commit);
//   - view_count: the views flush invalidates the posts it updated, so the
//     count shown lags by the flush interval (async) or by the cache TTL
//     (sync mode, which updates the row on every view and does not
//     invalidate);
//   - any other write to a post (unpublishing, an edit) must call
//     Invalidate("post", id) after it commits, as the salon writers do.
const postKeyPrefix = "post:"

func postKey(slug string) string { return postKeyPrefix + slug }

// getPost is GET /api/v1/posts/{slug}; with posts set an old slug answers
// 301 to the current one (slug history maps to the post, so one hop). Only
// a 200 counts a view.
func getPost(log *slog.Logger, s Store, c ReadCache, ttl time.Duration, now func() time.Time, posts PostSlugs, views ViewRecorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, err := slugParam(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		load := func(ctx context.Context) ([]byte, error) { return loadPost(ctx, s, posts, now(), slug) }
		var ans []byte
		if key := postKey(slug); c != nil && ttl > 0 && len(key) <= cache.MaxKeyLen {
			ans, err = c.GetOrLoad(r.Context(), key, ttl, load)
		} else {
			ans, err = load(r.Context())
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		status, arg, body, err := parsePostAnswer(ans)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if status == http.StatusMovedPermanently {
			loc := url.URL{Path: "/api/v1/posts/" + arg, RawQuery: r.URL.RawQuery}
			w.Header().Set("Location", loc.String())
			writeJSON(w, http.StatusMovedPermanently, map[string]string{"location": loc.String()})
			return
		}
		if views != nil {
			id, _ := strconv.ParseInt(arg, 10, 64) // checked by parsePostAnswer
			// A view is a signal: counting it never fails the page.
			if err := views.Record(r.Context(), id, r.Method, r.UserAgent()); err != nil {
				log.WarnContext(r.Context(), "post view not counted", "post", id, "err", err)
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write(body) // the status is sent; a write error here means the client left
	})
}

// loadPost renders the answer for slug at now (see postKeyPrefix for the
// encoding); a slug that leads nowhere published is store.ErrNotFound.
func loadPost(ctx context.Context, s Store, posts PostSlugs, now time.Time, slug string) ([]byte, error) {
	p, err := s.PostBySlug(ctx, now, slug)
	if err == nil {
		var b bytes.Buffer
		b.WriteString("200 " + strconv.FormatInt(p.ID, 10) + "\n")
		enc := json.NewEncoder(&b) // as writeJSON encodes
		enc.SetEscapeHTML(false)
		if err := enc.Encode(p); err != nil {
			return nil, fmt.Errorf("render post %s: %w", slug, err)
		}
		return b.Bytes(), nil
	}
	if !errors.Is(err, store.ErrNotFound) || posts == nil {
		return nil, err
	}
	cur, moved, rerr := posts.ResolvePostSlug(ctx, slug)
	switch {
	case errors.Is(rerr, store.ErrNotFound):
		return nil, err
	case rerr != nil:
		return nil, rerr
	case !moved || cur == slug:
		return nil, err // current but not published
	}
	// Only redirect to a page that answers: a draft's new slug would 404.
	if _, err := s.PostBySlug(ctx, now, cur); err != nil {
		return nil, err
	}
	return []byte("301 " + cur + "\n"), nil
}

// parsePostAnswer splits a rendered answer into its status, its argument
// (the post id, or the slug to redirect to) and its body.
func parsePostAnswer(ans []byte) (status int, arg string, body []byte, err error) {
	head, body, ok := bytes.Cut(ans, []byte("\n"))
	code, a, ok2 := bytes.Cut(head, []byte(" "))
	switch {
	case !ok || !ok2 || len(a) == 0:
	case string(code) == "301":
		return http.StatusMovedPermanently, string(a), nil, nil
	case string(code) == "200":
		if _, perr := strconv.ParseInt(string(a), 10, 64); perr == nil {
			return http.StatusOK, string(a), body, nil
		}
	}
	return 0, "", nil, fmt.Errorf("cached post answer %.40q: malformed", ans)
}
