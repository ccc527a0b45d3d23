package outbox

import (
	"context"

	"github.com/sevra/atlas/jobq"
)

// Signal is a non-critical, high-volume job (a post view, a hit counter):
// losing one is acceptable, slowing the request down is not. Signals never
// touch the outbox table.
type Signal struct {
	Queue string
	Job   string
	Data  any
	Opts  *jobq.JobOptions
}

// TryPublish adds s's job if the queue backend answers within
// PublishTimeout, and reports whether it did. While the backend is known to
// be unreachable it drops the signal at once; every drop is counted in
// atlas_signals_total{result="dropped"}. It never returns an error: the
// request goes on either way.
func (o *Outbox) TryPublish(ctx context.Context, s Signal) bool {
	if o.backendDown() {
		o.m.signals.WithLabelValues(s.Queue, s.Job, "dropped").Inc()
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.PublishTimeout)
	defer cancel()
	if _, err := o.jobs.Add(ctx, s.Queue, s.Job, s.Data, s.Opts); err != nil {
		o.m.signals.WithLabelValues(s.Queue, s.Job, "dropped").Inc()
		if !permanent(err) {
			o.markDown(o.cfg.PublishTimeout * 2)
		}
		o.log.DebugContext(ctx, "signal dropped", "queue", s.Queue, "job", s.Job, "err", err)
		return false
	}
	o.m.signals.WithLabelValues(s.Queue, s.Job, "published").Inc()
	return true
}

// SignalsDropped returns how many signals for queue/job were dropped so far
// in this process.
func (o *Outbox) SignalsDropped(queue, job string) float64 {
	return counterValue(o.m.signals.WithLabelValues(queue, job, "dropped"))
}
