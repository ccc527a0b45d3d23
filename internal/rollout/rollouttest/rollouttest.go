// Package rollouttest helps tests of shadow mode: it wraps a
// rollout.Comparer so that side results are altered before they are
// compared, the way a bug in a worker would alter them.
package rollouttest

import (
	"context"

	"github.com/sevra/atlas/internal/rollout"
)

// Faulty wraps inner: every comparison's side result goes through alter,
// which returns the altered value and whether it altered it; an altered
// side result counts as a mismatch, others are compared as usual. A nil
// alter leaves inner as it is.
func Faulty(inner rollout.Comparer, alter func(side any) (any, bool)) rollout.Comparer {
	if alter == nil {
		return inner
	}
	return faulty{inner: inner, alter: alter}
}

type faulty struct {
	inner rollout.Comparer
	alter func(any) (any, bool)
}

func (f faulty) Compare(ctx context.Context, m rollout.Module, subject string, ids []any, measure rollout.Measure) (bool, error) {
	return f.inner.Compare(ctx, m, subject, ids, func(ctx context.Context) (any, any, bool, error) {
		live, side, match, err := measure(ctx)
		if err != nil {
			return nil, nil, false, err
		}
		if side, altered := f.alter(side); altered {
			return live, side, false, nil
		}
		return live, side, match, nil
	})
}

func (f faulty) Record(ctx context.Context, c rollout.Comparison) bool {
	if side, altered := f.alter(c.Shadow); altered {
		c.Shadow, c.Match = side, false
	}
	return f.inner.Record(ctx, c)
}

// Wrapper returns a func that wraps a Comparer with Faulty(…, alter), the
// shape app.Hooks.Shadow takes; nil when alter is nil.
func Wrapper(alter func(side any) (any, bool)) func(rollout.Comparer) rollout.Comparer {
	if alter == nil {
		return nil
	}
	return func(c rollout.Comparer) rollout.Comparer { return Faulty(c, alter) }
}
