package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
)

// shadowResults keeps shadow results in the database (tables shadow_counts
// and shadow_mismatches), so the dashboard on every node shows what every
// worker compared. It implements rollout.Results.
type shadowResults struct{ st *store.Store }

func (s shadowResults) Add(ctx context.Context, c rollout.Comparison, keep int) error {
	var m *store.ShadowMismatch
	if !c.Match {
		ids, err := json.Marshal(c.IDs)
		if err != nil {
			ids = []byte(fmt.Sprintf("[%q]", fmt.Sprint(c.IDs...)))
		}
		m = &store.ShadowMismatch{Module: string(c.Module), Subject: c.Subject, IDs: string(ids),
			Live: fmt.Sprintf("%+v", c.Live), Shadow: fmt.Sprintf("%+v", c.Shadow), At: c.At}
	}
	return s.st.AddShadowResult(ctx, string(c.Module), m, keep)
}

func (s shadowResults) Counts(ctx context.Context) ([]rollout.Counts, error) {
	cs, err := s.st.ShadowCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]rollout.Counts, len(cs))
	for i, c := range cs {
		out[i] = rollout.Counts{Module: rollout.Module(c.Module), Match: c.Matches, Mismatch: c.Mismatches}
	}
	return out, nil
}

func (s shadowResults) RecentMismatches(ctx context.Context, n int) ([]rollout.Comparison, error) {
	ms, err := s.st.ShadowMismatches(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]rollout.Comparison, len(ms))
	for i, m := range ms {
		var ids []any
		if err := json.Unmarshal([]byte(m.IDs), &ids); err != nil {
			ids = []any{m.IDs}
		}
		// Live and Shadow come back as the text the log and the
		// dashboard show (%+v of the values compared).
		out[i] = rollout.Comparison{Module: rollout.Module(m.Module), Subject: m.Subject, IDs: ids,
			Live: m.Live, Shadow: m.Shadow, At: m.At}
	}
	return out, nil
}
