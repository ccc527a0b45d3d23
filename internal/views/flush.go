package views

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sevra/atlas/internal/store"
)

// FlushResult is what one flush did; it is the flush job's result and
// progress.
type FlushResult struct {
	// Batches is the number of batches applied, recovered ones included.
	Batches int `json:"batches"`
	// Posts is the number of post rows updated (a post in two batches
	// counts twice).
	Posts int `json:"posts"`
	// Views is the number of views added to posts.view_count.
	Views int64 `json:"views"`
	// Recovered counts the batches an earlier flush had sealed but not
	// finished; Duplicates those of them it had already applied.
	Recovered  int `json:"recovered,omitempty"`
	Duplicates int `json:"duplicates,omitempty"`
	// Skipped counts views of posts that no longer exist.
	Skipped int64 `json:"skipped,omitempty"`
	// Windows is the number of shadow windows compared.
	Windows int `json:"windows,omitempty"`
}

// flushLockID is the PostgreSQL advisory lock that serialises flush
// transactions, so that two flushes never update the same posts in
// different orders (a deadlock) and a batch id is claimed by one of them.
const flushLockID = 727_361_006

// updateChunk is the number of posts one UPDATE statement changes.
const updateChunk = 500

// Flush applies every buffered view to posts.view_count: it finishes the
// batches an earlier flush left sealed, seals the buffer into a new batch
// and applies it, compares the shadow windows (shadow mode), and prunes
// the flush log. It runs whatever the mode, so views buffered before a
// mode change are still applied. See the package documentation for why a
// crash at any step neither loses nor double-counts a view.
func (s *Service) Flush(ctx context.Context) (FlushResult, error) { return s.flush(ctx, nil) }

func (s *Service) flush(ctx context.Context, progress func(FlushResult)) (FlushResult, error) {
	var res FlushResult
	report := func() {
		if progress != nil {
			progress(res)
		}
	}
	pending, err := s.buf.Batches(ctx, LiveHash)
	if err != nil {
		return res, err
	}
	slices.Sort(pending)
	for _, id := range pending {
		dup, err := s.finish(ctx, id, &res)
		if err != nil {
			return res, err
		}
		res.Recovered++
		if dup {
			res.Duplicates++
		}
		report()
	}
	id := newBatchID(s.now())
	sealed, err := s.buf.Seal(ctx, LiveHash, id)
	if err != nil {
		return res, err
	}
	if sealed {
		if err := s.step(stepSealed); err != nil {
			return res, err
		}
		if _, err := s.finish(ctx, id, &res); err != nil {
			return res, err
		}
		report()
	}
	if err := s.flushShadow(ctx, &res); err != nil {
		return res, err
	}
	if err := s.prune(ctx); err != nil {
		return res, err
	}
	if res.Batches > 0 || res.Windows > 0 {
		s.log.InfoContext(ctx, "post views flushed", "batches", res.Batches, "posts", res.Posts, "views", res.Views,
			"recovered", res.Recovered, "skipped", res.Skipped, "windows", res.Windows)
	}
	return res, nil
}

// finish applies sealed batch id (steps 3 and 4) and reports whether it
// had been applied before.
func (s *Service) finish(ctx context.Context, id string, res *FlushResult) (dup bool, err error) {
	counts, err := s.buf.Read(ctx, LiveHash, id)
	if err != nil {
		return false, err
	}
	rows, bad := parseCounts(counts)
	if bad > 0 {
		s.log.WarnContext(ctx, "views batch holds fields that are not post ids", "batch", id, "fields", bad)
	}
	if len(rows) > 0 {
		a, err := s.apply(ctx, id, rows)
		if err != nil {
			return false, err
		}
		if a.dup {
			s.log.InfoContext(ctx, "views batch was applied before; deleting it", "batch", id)
		} else {
			res.Batches++
			res.Posts += a.posts
			res.Views += a.views
			res.Skipped += a.skipped
			s.m.flushed.Add(float64(a.views))
			s.m.rows.Add(float64(a.posts))
			s.invalidate(ctx, id, rows)
		}
		dup = a.dup
		if err := s.step(stepCommitted); err != nil {
			return dup, err
		}
	}
	return dup, s.buf.Delete(ctx, LiveHash, id)
}

// invalidate deletes the cached pages of the posts batch id changed; a
// failure costs freshness only (the pages expire with their TTL).
func (s *Service) invalidate(ctx context.Context, id string, rows []postCount) {
	if s.cache == nil {
		return
	}
	for chunk := range slices.Chunk(rows, updateChunk) {
		ids := make([]int64, len(chunk))
		for i, r := range chunk {
			ids[i] = r.id
		}
		if err := s.cache.InvalidatePosts(ctx, ids...); err != nil {
			s.m.cacheErrors.Inc()
			s.log.WarnContext(ctx, "views flush: cached post pages not invalidated", "batch", id, "err", err)
		}
	}
}

// postCount is one post's views in a batch.
type postCount struct {
	id, n int64
}

// parseCounts turns a LiveHash batch's fields into counts sorted by post
// id; bad counts the fields that are not a positive post id with a
// positive count.
func parseCounts(counts map[string]int64) (rows []postCount, bad int) {
	for f, n := range counts {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id <= 0 || n <= 0 {
			bad++
			continue
		}
		rows = append(rows, postCount{id, n})
	}
	slices.SortFunc(rows, func(a, b postCount) int { return cmp.Compare(a.id, b.id) })
	return rows, bad
}

// applied is what one batch's transaction did.
type applied struct {
	dup     bool
	posts   int
	views   int64
	skipped int64
}

// apply is step 3: one transaction that claims batch id in view_flushes
// and, unless it was claimed before, adds rows to posts.view_count.
func (s *Service) apply(ctx context.Context, id string, rows []postCount) (applied, error) {
	var a applied
	tx, err := s.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return a, fmt.Errorf("flush batch %s: %w", id, err)
	}
	defer tx.Rollback()
	if s.st.Dialect() == store.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", flushLockID); err != nil {
			return a, fmt.Errorf("flush batch %s: lock: %w", id, err)
		}
	}
	r, err := tx.ExecContext(ctx, s.st.Rebind(`INSERT INTO view_flushes (batch_id, applied_at, views) VALUES (?, ?, 0)
		ON CONFLICT (batch_id) DO NOTHING`), id, s.now().UTC())
	if err != nil {
		return a, fmt.Errorf("flush batch %s: log: %w", id, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return a, fmt.Errorf("flush batch %s: log: %w", id, err)
	} else if n == 0 {
		a.dup = true
		return a, nil // applied before: change nothing
	}
	for chunk := range slices.Chunk(rows, updateChunk) {
		updated, err := s.addViews(ctx, tx, chunk)
		if err != nil {
			return a, fmt.Errorf("flush batch %s: %w", id, err)
		}
		for _, c := range chunk {
			if updated[c.id] {
				a.posts++
				a.views += c.n
			} else {
				a.skipped += c.n
			}
		}
	}
	if _, err := tx.ExecContext(ctx, s.st.Rebind("UPDATE view_flushes SET views = ? WHERE batch_id = ?"), a.views, id); err != nil {
		return a, fmt.Errorf("flush batch %s: log: %w", id, err)
	}
	if err := s.step(stepPreCommit); err != nil {
		return a, err
	}
	if err := tx.Commit(); err != nil {
		return a, fmt.Errorf("flush batch %s: commit: %w", id, err)
	}
	return a, nil
}

// addViews adds each row's views to its post in one statement and returns
// the ids of the posts it updated (the others no longer exist).
func (s *Service) addViews(ctx context.Context, tx *sql.Tx, rows []postCount) (map[int64]bool, error) {
	var q strings.Builder
	args := make([]any, 0, 2*len(rows))
	if s.st.Dialect() == store.Postgres {
		q.WriteString("UPDATE posts SET view_count = posts.view_count + v.n FROM (VALUES ")
		for i, r := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?::bigint, ?::bigint)")
			args = append(args, r.id, r.n)
		}
		q.WriteString(") AS v (id, n) WHERE posts.id = v.id RETURNING posts.id")
	} else {
		// SQLite names a VALUES list's columns column1, column2, … and
		// allows no column aliases on it.
		q.WriteString("UPDATE posts SET view_count = view_count + v.column2 FROM (VALUES ")
		for i, r := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?)")
			args = append(args, r.id, r.n)
		}
		q.WriteString(") AS v WHERE posts.id = v.column1 RETURNING posts.id")
	}
	res, err := tx.QueryContext(ctx, s.st.Rebind(q.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("add views: %w", err)
	}
	defer res.Close()
	updated := make(map[int64]bool, len(rows))
	for res.Next() {
		var id int64
		if err := res.Scan(&id); err != nil {
			return nil, fmt.Errorf("add views: %w", err)
		}
		updated[id] = true
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("add views: %w", err)
	}
	return updated, nil
}

// prune deletes flush log rows older than the retention.
func (s *Service) prune(ctx context.Context) error {
	_, err := s.st.DB().ExecContext(ctx, s.st.Rebind("DELETE FROM view_flushes WHERE applied_at < ?"),
		s.now().Add(-s.retention).UTC())
	if err != nil {
		return fmt.Errorf("prune view flushes: %w", err)
	}
	return nil
}
