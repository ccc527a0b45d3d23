package views

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/sevra/atlas/internal/rollout"
)

// Totals sums one side of a shadow window: the posts with views and their
// views, counting only posts that exist when the window is compared.
type Totals struct {
	Posts int   `json:"posts"`
	Views int64 `json:"views"`
}

// flushShadow compares every sealed shadow window (recovered ones first)
// and deletes it. A crash after the comparison is recorded and before the
// delete records that window again: shadow results are at-least-once.
func (s *Service) flushShadow(ctx context.Context, res *FlushResult) error {
	pending, err := s.buf.Batches(ctx, ShadowHash)
	if err != nil {
		return err
	}
	slices.Sort(pending)
	id := newBatchID(s.now())
	sealed, err := s.buf.Seal(ctx, ShadowHash, id)
	if err != nil {
		return err
	}
	if sealed {
		pending = append(pending, id)
	}
	for _, id := range pending {
		if err := s.compareWindow(ctx, id); err != nil {
			return err
		}
		if err := s.buf.Delete(ctx, ShadowHash, id); err != nil {
			return err
		}
		res.Windows++
	}
	return nil
}

// compareWindow compares one sealed shadow window: what the async flush
// would have added (the views tally) with what the sync path added (the
// UPDATEs that changed a row), post by post, over the posts that exist.
func (s *Service) compareWindow(ctx context.Context, id string) error {
	counts, err := s.buf.Read(ctx, ShadowHash, id)
	if err != nil {
		return err
	}
	async, sync := map[int64]int64{}, map[int64]int64{}
	for f, n := range counts {
		side := async
		if rest, ok := strings.CutPrefix(f, "sync:"); ok {
			f, side = rest, sync
		}
		pid, err := strconv.ParseInt(f, 10, 64)
		if err != nil || pid <= 0 {
			continue
		}
		side[pid] += n
	}
	if len(async) == 0 && len(sync) == 0 {
		return nil
	}
	exists, err := s.existing(ctx, slices.Sorted(maps.Keys(union(async, sync))))
	if err != nil {
		return fmt.Errorf("shadow window %s: %w", id, err)
	}
	var live, side Totals
	var differ []int64
	for pid := range union(async, sync) {
		if !exists[pid] {
			continue
		}
		if async[pid] > 0 {
			side.Posts++
			side.Views += async[pid]
		}
		if sync[pid] > 0 {
			live.Posts++
			live.Views += sync[pid]
		}
		if async[pid] != sync[pid] {
			differ = append(differ, pid)
		}
	}
	slices.Sort(differ)
	ids := []any{"batch", id}
	if len(differ) > 0 {
		ids = append(ids, "posts_differing", len(differ), "first_differing", differ[:min(len(differ), 10)])
	}
	c := rollout.Comparison{Module: Module, Subject: "views window " + id, IDs: ids, Live: live, Shadow: side,
		Match: len(differ) == 0}
	if s.shadow != nil {
		s.shadow.Record(ctx, c)
	} else if !c.Match {
		s.log.WarnContext(ctx, "shadow result mismatch", append([]any{"module", Module, "subject", c.Subject,
			"live", live, "shadow", side}, ids...)...)
	}
	return nil
}

func union(a, b map[int64]int64) map[int64]int64 {
	u := maps.Clone(a)
	for k, v := range b {
		u[k] += v
	}
	return u
}

// existing returns which of ids are posts.
func (s *Service) existing(ctx context.Context, ids []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(ids))
	for chunk := range slices.Chunk(ids, updateChunk) {
		q := "SELECT id FROM posts WHERE id IN (?" + strings.Repeat(", ?", len(chunk)-1) + ")"
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.st.DB().QueryContext(ctx, s.st.Rebind(q), args...)
		if err != nil {
			return nil, fmt.Errorf("posts: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("posts: %w", err)
			}
			out[id] = true
		}
		err = rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("posts: %w", err)
		}
	}
	return out, nil
}
