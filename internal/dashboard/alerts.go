package dashboard

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/jobq"
)

// Thresholds are one queue's alert thresholds; a zero field is off.
type Thresholds struct {
	// FailedRate alerts when failed/(completed+failed) over the last hour
	// (from the per-minute metrics) exceeds it, 0…1.
	FailedRate float64
	// OldestWaiting alerts when the oldest waiting job has waited longer.
	OldestWaiting time.Duration
}

// alertView is one queue's alert state.
type alertView struct {
	Thresholds
	// FailedRatio is failed/(completed+failed) over the last hour (0 when
	// nothing finished).
	FailedRatio float64
	// OldestWaiting is how long the oldest waiting job has waited (0: none).
	OldestWaiting time.Duration
	// FailedRateFiring and OldestWaitingFiring report crossed thresholds.
	FailedRateFiring, OldestWaitingFiring bool
}

// Firing reports whether any alert of the queue fires.
func (a alertView) Firing() bool { return a.FailedRateFiring || a.OldestWaitingFiring }

// thresholds returns queue's thresholds (its own, or the "" entry).
func (s *Server) thresholds(queue string) Thresholds {
	if t, ok := s.cfg.Alerts[queue]; ok {
		return t
	}
	return s.cfg.Alerts[""]
}

// alerts evaluates queue's thresholds against the hour's counts and the
// oldest waiting (or prioritized) job.
func (s *Server) alerts(ctx context.Context, q *jobq.Queue, completedHour, failedHour int64) (alertView, error) {
	a := alertView{Thresholds: s.thresholds(q.Name())}
	if n := completedHour + failedHour; n > 0 {
		a.FailedRatio = float64(failedHour) / float64(n)
	}
	var oldest time.Time
	for _, st := range []jobq.State{jobq.StateWaiting, jobq.StatePrioritized} {
		// Waiting's natural order is by arrival, so its first job (asc) is
		// the oldest; prioritized is ordered by priority, so look at the
		// first 100 next in line.
		end := 0
		if st == jobq.StatePrioritized {
			end = 99
		}
		jobs, err := q.GetJobs(ctx, []jobq.State{st}, 0, end, true)
		if err != nil {
			return a, err
		}
		for _, j := range jobs {
			if oldest.IsZero() || j.Timestamp.Before(oldest) {
				oldest = j.Timestamp
			}
		}
	}
	if !oldest.IsZero() {
		a.OldestWaiting = max(s.cfg.Now().Sub(oldest), 0)
	}
	a.FailedRateFiring = a.Thresholds.FailedRate > 0 && a.FailedRatio > a.Thresholds.FailedRate
	a.OldestWaitingFiring = a.Thresholds.OldestWaiting > 0 && a.OldestWaiting > a.Thresholds.OldestWaiting
	return a, nil
}

// Collector returns a Prometheus collector of the alert state per queue,
// read from the same cached snapshot the overview shows (so scrapes cost
// no more than one open overview):
//
//	atlas_jobs_failed_ratio{queue}                 failed/(completed+failed), last hour
//	atlas_jobs_oldest_waiting_seconds{queue}       age of the oldest waiting job
//	atlas_jobs_alert_threshold{queue,alert}        the configured threshold (0: off)
//	atlas_jobs_alert_firing{queue,alert}           1 while the alert fires
//
// alert is "failed_rate" or "oldest_waiting".
func (s *Server) Collector() prometheus.Collector { return alertCollector{s} }

var (
	descFailedRatio = prometheus.NewDesc("atlas_jobs_failed_ratio",
		"Failed share of the jobs finished in the last hour, per queue (per-minute metrics).", []string{"queue"}, nil)
	descOldestWaiting = prometheus.NewDesc("atlas_jobs_oldest_waiting_seconds",
		"Seconds the oldest waiting job of the queue has waited.", []string{"queue"}, nil)
	descThreshold = prometheus.NewDesc("atlas_jobs_alert_threshold",
		"Configured alert threshold per queue (failed_rate: ratio, oldest_waiting: seconds); 0 is off.", []string{"queue", "alert"}, nil)
	descFiring = prometheus.NewDesc("atlas_jobs_alert_firing",
		"1 while the queue's alert fires.", []string{"queue", "alert"}, nil)
)

type alertCollector struct{ s *Server }

func (c alertCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFailedRatio, descOldestWaiting, descThreshold, descFiring} {
		ch <- d
	}
}

func (c alertCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, err := c.s.overviewCached(ctx)
	if err != nil {
		return
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, q := range v.Queues {
		if q.Err != "" {
			continue
		}
		a := q.Alerts
		ch <- prometheus.MustNewConstMetric(descFailedRatio, prometheus.GaugeValue, a.FailedRatio, q.Name)
		ch <- prometheus.MustNewConstMetric(descOldestWaiting, prometheus.GaugeValue, a.OldestWaiting.Seconds(), q.Name)
		ch <- prometheus.MustNewConstMetric(descThreshold, prometheus.GaugeValue, a.Thresholds.FailedRate, q.Name, "failed_rate")
		ch <- prometheus.MustNewConstMetric(descThreshold, prometheus.GaugeValue, a.Thresholds.OldestWaiting.Seconds(), q.Name, "oldest_waiting")
		ch <- prometheus.MustNewConstMetric(descFiring, prometheus.GaugeValue, b2f(a.FailedRateFiring), q.Name, "failed_rate")
		ch <- prometheus.MustNewConstMetric(descFiring, prometheus.GaugeValue, b2f(a.OldestWaitingFiring), q.Name, "oldest_waiting")
	}
}
