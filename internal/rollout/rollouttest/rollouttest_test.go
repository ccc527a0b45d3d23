package rollouttest

import (
	"context"
	"testing"

	"github.com/sevra/atlas/internal/rollout"
)

func TestFaultyTurnsMatchesIntoMismatches(t *testing.T) {
	t.Parallel()
	rec, err := rollout.NewRecorder(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := Faulty(rec, func(side any) (any, bool) {
		if side.(int) == 0 {
			return side, false // left alone: compared as usual
		}
		return side.(int) + 1, true
	})
	ctx := context.Background()
	match, err := c.Compare(ctx, "m", "x", nil, func(context.Context) (any, any, bool, error) { return 1, 1, true, nil })
	if err != nil || match {
		t.Fatalf("Compare = %v, %v; want a mismatch", match, err)
	}
	if c.Record(ctx, rollout.Comparison{Module: "m", Live: 1, Shadow: 1, Match: true}) {
		t.Fatal("Record kept the match")
	}
	got := rec.RecentMismatches()
	if len(got) != 2 || got[0].Shadow != 2 || got[1].Shadow != 2 {
		t.Fatalf("recorded %+v; want two mismatches with side 2", got)
	}
	if match, err := c.Compare(ctx, "m", "y", nil, func(context.Context) (any, any, bool, error) { return 0, 0, true, nil }); err != nil || !match {
		t.Fatalf("unaltered Compare = %v, %v; want a match", match, err)
	}
	if Faulty(rec, nil) != rollout.Comparer(rec) {
		t.Fatal("a nil alter must leave the recorder as it is")
	}
}
