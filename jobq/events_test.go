package jobq_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
	"github.com/sevra/atlas/jobq/jobqdriver"
)

// eventStub is a backend whose event log holds one event; later reads
// block until their context ends. Other methods are not implemented.
type eventStub struct {
	jobq.Backend
	reads atomic.Int64
}

func (s *eventStub) LastEventID(context.Context, string) (string, error) { return "0", nil }

func (s *eventStub) ReadEvents(ctx context.Context, _, _ string, _ int, _ time.Duration) ([]jobqdriver.Event, error) {
	if s.reads.Add(1) == 1 {
		return []jobqdriver.Event{{ID: "1-0", Name: jobq.EventAdded, Fields: map[string]string{"jobId": "1"}}}, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestQueueEventsClose checks that Close cancels a blocked read at once,
// and that it returns by ctx's deadline when a handler does not return.
func TestQueueEventsClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		blockInHook bool
		wantErr     error
	}{
		{"BlockedRead", false, nil},
		{"StuckHandler", true, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			qe := jobq.NewQueueEvents("q", &eventStub{}, &jobq.QueueEventsConfig{BlockTimeout: time.Hour})
			entered, release := make(chan struct{}), make(chan struct{})
			defer close(release)
			qe.On("", func(jobq.Event) {
				close(entered)
				if tt.blockInHook {
					<-release
				}
			})
			if err := qe.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			<-entered
			const deadline = 100 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := qe.Close(ctx)
			if took := time.Since(start); took > deadline+time.Second {
				t.Errorf("Close took %v with a %v deadline", took, deadline)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Close = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestQueueEventsCloseNotStarted checks that closing an unstarted
// subscriber does nothing.
func TestQueueEventsCloseNotStarted(t *testing.T) {
	t.Parallel()
	qe := jobq.NewQueueEvents("q", &eventStub{}, nil)
	if err := qe.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
