package queues

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"

	"github.com/sevra/atlas/internal/tracing"
	"github.com/sevra/atlas/jobq"
)

// Handler runs one job; its result becomes the job's return value. Return
// jobq.Unrecoverable(err) for errors a retry cannot fix.
type Handler func(ctx context.Context, job *jobq.Job) (any, error)

// Registry maps (queue, job name) to handlers and holds queue settings.
// Domain packages register their handlers at wiring time, before Start.
type Registry struct {
	handlers map[string]map[string]Handler
	settings map[string]Settings
}

// NewRegistry returns a registry with DESIGN's default settings for every
// Atlas queue.
func NewRegistry() *Registry {
	r := &Registry{handlers: map[string]map[string]Handler{}, settings: map[string]Settings{}}
	for _, q := range Queues {
		r.settings[q] = DefaultSettings(q, runtime.NumCPU())
	}
	return r
}

// Handle registers h for jobs named name on queue. A second registration
// of the same pair panics: it is a wiring bug.
func (r *Registry) Handle(queue, name string, h Handler) {
	if r.handlers[queue] == nil {
		r.handlers[queue] = map[string]Handler{}
	}
	if _, dup := r.handlers[queue][name]; dup {
		panic(fmt.Sprintf("jobs: handler for %s/%s registered twice", queue, name))
	}
	r.handlers[queue][name] = h
	if _, ok := r.settings[queue]; !ok {
		r.settings[queue] = DefaultSettings(queue, runtime.NumCPU())
	}
}

// Settings returns a queue's settings.
func (r *Registry) Settings(queue string) Settings {
	if s, ok := r.settings[queue]; ok {
		return s
	}
	return DefaultSettings(queue, runtime.NumCPU())
}

// SetSettings replaces a queue's settings.
func (r *Registry) SetSettings(queue string, s Settings) { r.settings[queue] = s }

// HandledQueues lists queues that have at least one handler, sorted.
func (r *Registry) HandledQueues() []string {
	qs := make([]string, 0, len(r.handlers))
	for q := range r.handlers {
		qs = append(qs, q)
	}
	sort.Strings(qs)
	return qs
}

// JobNames lists the job names handled on queue, sorted.
func (r *Registry) JobNames(queue string) []string {
	var ns []string
	for n := range r.handlers[queue] {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// dispatch returns the processor of one queue: it routes by job name and
// fails unknown names at once.
func (r *Registry) dispatch(queue string) jobq.Processor {
	hs := r.handlers[queue]
	return func(ctx context.Context, job *jobq.Job) (any, error) {
		h, ok := hs[job.Name]
		if !ok {
			return nil, jobq.Unrecoverable(fmt.Errorf("no handler for job %q on queue %s", job.Name, queue))
		}
		// The request's trace rides in the job data; handlers log with ctx.
		if tc, ok := tracing.FromJobData(job.Data); ok {
			ctx = tracing.With(ctx, tc.Child())
		}
		return h(ctx, job)
	}
}

// Producer adds jobs with each queue's default options.
type Producer struct {
	reg    *Registry
	drv    jobq.Backend
	queues map[string]*jobq.Queue
}

// NewProducer returns a producer on backend.
func NewProducer(reg *Registry, backend jobq.Backend) *Producer {
	p := &Producer{reg: reg, drv: backend, queues: map[string]*jobq.Queue{}}
	for _, q := range Queues {
		p.queues[q] = p.newQueue(q)
	}
	return p
}

func (p *Producer) newQueue(name string) *jobq.Queue {
	d := p.reg.Settings(name).Defaults
	return jobq.NewQueue(name, p.drv, &jobq.QueueConfig{DefaultJobOptions: &d})
}

// Queue returns the handle of a queue (Atlas queues are pre-made; others
// get one on demand, which is not safe concurrently with other calls).
func (p *Producer) Queue(name string) *jobq.Queue {
	if q, ok := p.queues[name]; ok {
		return q
	}
	return p.newQueue(name)
}

// Add adds one job to queue; options the caller leaves unset come from the
// queue's defaults.
func (p *Producer) Add(ctx context.Context, queue, name string, data any, opts *jobq.JobOptions) (*jobq.Job, error) {
	j, err := p.Queue(queue).Add(ctx, name, data, opts)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s/%s: %w", queue, name, err)
	}
	return j, nil
}
