package review_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/review"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestAggregateLiteralValues checks Recompute against numbers worked out
// by hand, not by any production function: published ratings 5, 4 and 1,
// plus a pending 1 and a rejected 5 that must not count, give sum 10,
// count 3, average 10/3 and, with the documented prior of 10 reviews of
// 3.5, a Bayesian score of (35 + 10) / 13. A wrong prior, or counting
// unpublished reviews, fails here.
func TestAggregateLiteralValues(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	r := newRig(t, st, rollout.Modes{review.Module: rollout.Sync}, nil)
	ctx := context.Background()
	for i, rv := range []struct {
		rating int
		status string
	}{{5, "published"}, {4, "published"}, {1, "published"}, {1, "pending"}, {5, "rejected"}} {
		var uid int64
		if err := st.DB().QueryRowContext(ctx, st.Rebind(`INSERT INTO users (phone, role, created_at) VALUES (?, 'user', ?) RETURNING id`),
			fmt.Sprintf("+98912000000%d", i), time.Now().UTC()).Scan(&uid); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO reviews (salon_id, user_id, rating, body, status, created_at)
			VALUES (10, ?, ?, '', ?, ?)`), uid, rv.rating, rv.status, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.svc.Recompute(ctx, 10, ""); err != nil {
		t.Fatal(err)
	}
	got, err := r.svc.Stored(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	const (
		wantAvg      = 3.3333333333333335 // 10 / 3
		wantBayesian = 3.4615384615384617 // 45 / 13
	)
	if got.Sum != 10 || got.Count != 3 || got.Avg != wantAvg || got.Bayesian != wantBayesian {
		t.Errorf("stored %+v, want sum 10, count 3, avg %v, bayesian %v", got, wantAvg, wantBayesian)
	}
	// The list order uses the same score: salon 10 (3.46) ranks below an
	// unreviewed salon's prior (3.5).
	var first int64
	if err := st.DB().QueryRowContext(ctx, `SELECT id FROM salons ORDER BY bayesian_score DESC, id LIMIT 1`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first == 10 {
		t.Errorf("salon 10 (Bayesian 3.46) ranks above unreviewed salons (3.5)")
	}
}
