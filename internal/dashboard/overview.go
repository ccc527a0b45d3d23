package dashboard

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/jobq"
)

// listStates are the states the dashboard counts and lists, in order.
var listStates = []jobq.State{jobq.StateWaiting, jobq.StatePrioritized, jobq.StateDelayed, jobq.StateActive,
	jobq.StateCompleted, jobq.StateFailed, jobq.StateWaitingChildren}

// stateCount is one state's count.
type stateCount struct {
	State jobq.State
	N     int64
}

type queueSummary struct {
	Name   string
	Paused bool
	Counts []stateCount
	// CompletedHour and FailedHour come from the per-minute metrics.
	CompletedHour, FailedHour int64
	Schedulers                []schedulerView
	// Workers are the workers online; WorkersErr says why they are unknown.
	Workers    []jobq.WorkerInfo
	WorkersErr string
	Alerts     alertView
	Err        string
}

// schedulerView is a scheduler with its last run, found among the newest
// finished jobs of the queue.
type schedulerView struct {
	jobq.JobScheduler
	LastJobID  string
	LastState  jobq.State
	LastRun    time.Time
	LastReason string
}

type backendView struct {
	Kind, Location string
	Ready          bool
	ReadyErr       string
	// Redis is set when the backend reports its health, as only the Redis
	// backend does.
	Redis    *jobq.HealthReport
	RedisErr string
}

type backlogView struct {
	Configured bool
	Pending    int64
	Oldest     time.Time
	Alert      bool
	Err        string
}

type moduleView struct {
	Module           rollout.Module
	Mode             rollout.Mode
	Match, Mismatch  int64
	HasShadowResults bool
}

type overviewView struct {
	Queues     []queueSummary
	Backend    backendView
	Backlog    backlogView
	Modules    []moduleView
	Mismatches []rollout.Comparison
	Now        time.Time
}

// maxMismatches is how many recent shadow mismatches the overview lists.
const maxMismatches = 20

// Overview serves GET /admin/jobs.
func (s *Server) Overview() http.Handler {
	return s.requireAdmin(func(w http.ResponseWriter, r *http.Request, a auth) {
		v, etag, err := s.overviewCached(r.Context())
		if err != nil {
			s.fail(w, r, a, err)
			return
		}
		if notModified(w, r, etag) {
			return
		}
		s.render(w, r, http.StatusOK, "overview", pageData{Title: "Jobs", Auth: a, Body: v, ETag: etag, Notice: notice(r.URL.Query())})
	})
}

// overviewCached returns the overview and its ETag, computed at most once
// per cache interval.
func (s *Server) overviewCached(ctx context.Context) (overviewView, string, error) {
	v, etag, err := s.cache.get(ctx, "overview", func(ctx context.Context) (any, error) {
		v := overviewView{Now: s.cfg.Now().Truncate(time.Minute)}
		for _, name := range s.cfg.Queues {
			q, _ := s.queue(name)
			v.Queues = append(v.Queues, s.summarize(ctx, q, true))
		}
		v.Backend = s.backend(ctx)
		v.Backlog = s.backlog(ctx)
		v.Modules, v.Mismatches = s.rollout()
		return v, nil
	})
	if err != nil {
		return overviewView{}, "", err
	}
	return v.(overviewView), etag, nil
}

// summarize reads a queue's counts, hour totals, schedulers, workers and
// alerts; lastRuns also looks for each scheduler's last run.
func (s *Server) summarize(ctx context.Context, q *jobq.Queue, lastRuns bool) queueSummary {
	sum := queueSummary{Name: q.Name()}
	counts, err := q.GetJobCounts(ctx, listStates...)
	if err != nil {
		sum.Err = err.Error()
		return sum
	}
	for _, st := range listStates {
		sum.Counts = append(sum.Counts, stateCount{st, counts[st]})
	}
	if sum.Paused, err = q.IsPaused(ctx); err != nil {
		sum.Err = err.Error()
	}
	now := s.cfg.Now()
	for _, k := range []jobq.MetricsKind{jobq.MetricsCompleted, jobq.MetricsFailed} {
		m, err := q.GetMetrics(ctx, k, 0, 60)
		if err != nil {
			sum.Err = err.Error()
			continue
		}
		n := lastHour(m, now)
		if k == jobq.MetricsCompleted {
			sum.CompletedHour = n
		} else {
			sum.FailedHour = n
		}
	}
	scheds, err := q.GetJobSchedulers(ctx)
	if err != nil {
		sum.Err = err.Error()
	}
	for _, js := range scheds {
		sum.Schedulers = append(sum.Schedulers, schedulerView{JobScheduler: js})
	}
	if lastRuns && len(sum.Schedulers) > 0 {
		s.lastRuns(ctx, q, sum.Schedulers)
	}
	if sum.Workers, err = q.GetWorkers(ctx); err != nil {
		sum.WorkersErr = err.Error()
	}
	if sum.Alerts, err = s.alerts(ctx, q, sum.CompletedHour, sum.FailedHour); err != nil {
		sum.Err = err.Error()
	}
	return sum
}

// lastRunScan is how many of the newest completed and of the newest
// failed jobs are searched for schedulers' last runs.
const lastRunScan = 100

// lastRuns fills each scheduler's last run from the newest finished jobs
// (those retention still keeps).
func (s *Server) lastRuns(ctx context.Context, q *jobq.Queue, scheds []schedulerView) {
	for _, st := range []jobq.State{jobq.StateCompleted, jobq.StateFailed} {
		jobs, err := q.GetJobs(ctx, []jobq.State{st}, 0, lastRunScan-1, false)
		if err != nil {
			continue
		}
		for _, j := range jobs {
			for i := range scheds {
				sv := &scheds[i]
				if j.RepeatJobKey == sv.ID && j.FinishedOn.After(sv.LastRun) {
					sv.LastJobID, sv.LastState, sv.LastRun, sv.LastReason = j.ID, st, j.FinishedOn, j.FailedReason
				}
			}
		}
	}
}

// lastHour counts events in the 60 minutes up to now. As in BullMQ,
// Count-PrevCount events happened in PrevTS's minute, and point i of Data
// (newest first) is the minute before that minus i.
func lastHour(m jobq.Metrics, now time.Time) int64 {
	if m.PrevTS == 0 {
		return 0
	}
	newest, from := m.PrevTS/60000, now.UnixMilli()/60000-59
	var n int64
	if newest >= from {
		n += m.Count - m.PrevCount
	}
	for i, d := range m.Data {
		if newest-1-int64(i) < from {
			break
		}
		n += d
	}
	return n
}

func (s *Server) backend(ctx context.Context) backendView {
	b := s.cfg.Backend
	v := backendView{Kind: b.Kind, Location: b.Location}
	if err := b.Check(ctx); err != nil {
		v.ReadyErr = err.Error()
	} else {
		v.Ready = true
	}
	if h, ok, err := jobq.Health(ctx, b.Driver); err != nil {
		v.RedisErr = err.Error()
	} else if ok {
		v.Redis = &h
	}
	return v
}

func (s *Server) backlog(ctx context.Context) backlogView {
	if s.cfg.Outbox == nil {
		return backlogView{}
	}
	b, err := s.cfg.Outbox.Backlog(ctx)
	if err != nil {
		return backlogView{Configured: true, Err: err.Error()}
	}
	return backlogView{Configured: true, Pending: b.Pending, Oldest: b.Oldest, Alert: b.Alert}
}

// rollout lists every module's mode and shadow counts, and the recent
// mismatches, newest first.
func (s *Server) rollout() ([]moduleView, []rollout.Comparison) {
	var counts []rollout.Counts
	var recent []rollout.Comparison
	if s.cfg.Shadow != nil {
		counts, recent = s.cfg.Shadow.Counts(), s.cfg.Shadow.RecentMismatches()
	}
	var mods []moduleView
	for _, m := range s.cfg.Modules {
		mv := moduleView{Module: m, Mode: s.cfg.Modes.Mode(m)}
		if i := slices.IndexFunc(counts, func(c rollout.Counts) bool { return c.Module == m }); i >= 0 {
			mv.Match, mv.Mismatch, mv.HasShadowResults = counts[i].Match, counts[i].Mismatch, true
		}
		mods = append(mods, mv)
	}
	slices.Reverse(recent)
	if len(recent) > maxMismatches {
		recent = recent[:maxMismatches]
	}
	return mods, recent
}
