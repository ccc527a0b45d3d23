package outbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/store/storetest"
)

func TestTryPublishDropsWhenBackendIsDown(t *testing.T) {
	t.Parallel()
	fj := newFakeJobs()
	o := newOutbox(t, storetest.OpenSQLite(t), fj, func(c *Config) { c.PublishTimeout = 50 * time.Millisecond })
	ctx := context.Background()
	view := Signal{Queue: queues.QueueAnalytics, Job: "post-viewed", Data: map[string]int64{"postId": 1}}
	tests := []struct {
		name    string
		backend error
		want    bool
		dropped float64
	}{
		{"up", nil, true, 0},
		{"down", errors.New("connection refused"), false, 1},
		{"still marked down, dropped without trying", nil, false, 2},
	}
	for _, tc := range tests {
		fj.setErr(tc.backend)
		if got := o.TryPublish(ctx, view); got != tc.want {
			t.Fatalf("%s: TryPublish = %v, want %v", tc.name, got, tc.want)
		}
		if got := o.SignalsDropped(view.Queue, view.Job); got != tc.dropped {
			t.Fatalf("%s: dropped = %v, want %v", tc.name, got, tc.dropped)
		}
	}
	if _, adds := fj.total(); adds != 1 {
		t.Fatalf("%d adds, want 1 (the drop while marked down must not call the backend)", adds)
	}
	time.Sleep(150 * time.Millisecond) // the mark expires
	if !o.TryPublish(ctx, view) {
		t.Fatal("TryPublish after the backend came back")
	}
	var n int
	o.st.DB().QueryRow("SELECT count(*) FROM outbox").Scan(&n)
	if n != 0 {
		t.Fatalf("signals wrote %d outbox rows", n)
	}
}
