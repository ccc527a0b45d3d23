package jobq

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// WorkerInfo describes a worker online for a queue. Fields the backend
// cannot know are zero: on Redis, workers are the connections named as
// BullMQ names them (Go and Node alike), so Pid and Concurrency are 0 and
// Host is the client address; on SQLite, every jobq worker records
// heartbeats with all fields.
type WorkerInfo struct {
	Name        string
	Host        string
	Pid         int
	Concurrency int
	Started     time.Time
	LastSeen    time.Time
}

// ErrNoWorkerList is returned by GetWorkers when the backend cannot list
// workers.
var ErrNoWorkerList = errors.New("jobq: backend cannot list workers")

// heartbeatInterval is how often a worker records a heartbeat on backends
// that need one (jobqsqlite); a worker counts as online for
// workerOnlineWindow after its last one.
const (
	heartbeatInterval  = 10 * time.Second
	workerOnlineWindow = 3*heartbeatInterval + 5*time.Second
)

// GetWorkers lists the workers online for the queue: on Redis the
// connections a BullMQ-style getWorkers finds, on SQLite the workers that
// recorded a heartbeat in the last 35 seconds (they do so every 10).
func (q *Queue) GetWorkers(ctx context.Context) ([]WorkerInfo, error) {
	l, ok := q.drv.(jobqdriver.WorkerLister)
	if !ok {
		return nil, ErrNoWorkerList
	}
	ws, err := l.Workers(ctx, q.name, q.cfg.Clock().Add(-workerOnlineWindow).UnixMilli())
	if err != nil {
		return nil, q.wrap("get workers", err)
	}
	out := make([]WorkerInfo, len(ws))
	for i, w := range ws {
		out[i] = WorkerInfo{Name: w.Name, Host: w.Host, Pid: w.Pid, Concurrency: w.Concurrency,
			Started: msTime(w.Started), LastSeen: msTime(w.LastSeen)}
	}
	return out, nil
}

// heartbeatLoop records the worker's heartbeat until ctx ends, then
// removes it, when the backend needs heartbeats to list workers.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	hb, ok := w.drv.(jobqdriver.WorkerHeartbeater)
	if !ok {
		return
	}
	host, _ := os.Hostname()
	info := jobqdriver.WorkerInfo{Name: w.cfg.Name, Host: host, Pid: os.Getpid(), Concurrency: w.cfg.Concurrency}
	t := time.NewTicker(heartbeatInterval)
	defer t.Stop()
	for {
		if err := hb.Heartbeat(ctx, w.queue, info, w.now()); err != nil && ctx.Err() == nil {
			w.reportErr(err)
		}
		select {
		case <-ctx.Done():
			rmCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := hb.RemoveWorker(rmCtx, w.queue, w.cfg.Name); err != nil {
				w.reportErr(err)
			}
			return
		case <-t.C:
		}
	}
}
