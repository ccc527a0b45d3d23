// Package outbox is Atlas's transactional outbox. Domain writes insert
// their events into the outbox table in the same database transaction
// (Outbox.Add); after the commit the request publishes them to their jobs
// at once (Outbox.Publish, the fast path) and marks them published. A
// Relay publishes whatever the fast path left behind (the queue backend
// was down, the process died between commit and publish), on SQLite and
// PostgreSQL, with several Atlas processes running. Job ids derive from the
// event or the resource (see Route), so a republish is a no-op.
//
// Non-critical, high-volume signals (post views) skip the outbox:
// Outbox.TryPublish drops and counts them when the backend is unreachable.
package outbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/tracing"
	"github.com/sevra/atlas/jobq"
)

// JobAdder adds a job to a queue with the queue's defaults;
// *queues.Producer implements it.
type JobAdder interface {
	Add(ctx context.Context, queue, name string, data any, opts *jobq.JobOptions) (*jobq.Job, error)
}

// Execer runs a statement; *sql.Tx (and *sql.DB) implement it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Event is one domain event.
type Event struct {
	// ID is unique (32 hex digits from NewEvent); job ids derive from it.
	ID   string
	Type string
	// Payload is a JSON object; its fields become the job's data.
	Payload json.RawMessage
	// Trace is the traceparent of the request that caused the event.
	Trace string
	// Mode is the rollout mode the producer ran in. Sync events are not
	// stored or published: the request did the work.
	Mode      rollout.Mode
	CreatedAt time.Time
}

// NewEvent returns an event of type typ with payload encoded as JSON, a
// fresh id, and the trace context of ctx.
func NewEvent(ctx context.Context, typ string, payload any, mode rollout.Mode) (Event, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	if len(b) == 0 || b[0] != '{' {
		return Event{}, fmt.Errorf("%w: %s payload must be a JSON object", ErrBadPayload, typ)
	}
	if mode == "" {
		mode = rollout.DefaultMode
	}
	return Event{ID: NewID(), Type: typ, Payload: b, Trace: traceOf(ctx), Mode: mode}, nil
}

// NewID returns a random event id (32 lower-case hex digits).
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func traceOf(ctx context.Context) string {
	c, ok := tracing.From(ctx)
	if !ok {
		return ""
	}
	return c.String()
}

// Config configures an Outbox. Zero fields take the stated defaults.
type Config struct {
	Store *store.Store
	Jobs  JobAdder
	// Routes maps event types to jobs (see NewRoutes); the modules declare
	// them and the composition root collects them. An event without a
	// route is refused by Add.
	Routes Routes
	Logger *slog.Logger
	// Registry receives the outbox metrics (nil: not exported).
	Registry prometheus.Registerer
	// PublishTimeout bounds the fast path and TryPublish; default 500ms.
	PublishTimeout time.Duration
	// Grace keeps the relay off a new row so the fast path goes first;
	// default 2s.
	Grace time.Duration
	// Lease is how long a relay's claim on a row lasts; default 30s.
	Lease time.Duration
	// BacklogAlertRows and BacklogAlertAge: the backlog alert fires (and
	// the readiness check fails) when more rows than this are unpublished
	// or the oldest is older; defaults 10000 and 5m.
	BacklogAlertRows int
	BacklogAlertAge  time.Duration
	// Retention is how long published rows are kept; default 24h.
	Retention time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Outbox writes events and publishes them. It is safe for concurrent use.
type Outbox struct {
	cfg    Config
	st     *store.Store
	jobs   JobAdder
	routes Routes
	log    *slog.Logger
	m      *metrics
	// downUntil (unix ms) skips the fast path and drops signals while the
	// queue backend was recently unreachable; the relay probes it.
	downUntil atomic.Int64
}

// New returns an Outbox.
func New(cfg Config) (*Outbox, error) {
	if cfg.Store == nil || cfg.Jobs == nil {
		return nil, errors.New("outbox: store and jobs are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PublishTimeout, 500*time.Millisecond)
	def(&cfg.Grace, 2*time.Second)
	def(&cfg.Lease, 30*time.Second)
	def(&cfg.BacklogAlertAge, 5*time.Minute)
	def(&cfg.Retention, 24*time.Hour)
	if cfg.BacklogAlertRows <= 0 {
		cfg.BacklogAlertRows = 10_000
	}
	if cfg.Routes == nil {
		cfg.Routes = Routes{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Outbox{cfg: cfg, st: cfg.Store, jobs: cfg.Jobs, routes: cfg.Routes, log: cfg.Logger, m: m}, nil
}

// Add inserts events into the outbox through tx, the domain write's
// transaction. Events in sync mode are skipped. An event whose id is
// already stored is skipped too, so a retried job may derive its event id
// from the job id. The caller commits, then calls Publish with the same
// events.
func (o *Outbox) Add(ctx context.Context, tx Execer, events ...Event) error {
	now := o.cfg.Now().UTC()
	q := o.st.Rebind(`INSERT INTO outbox (event_id, type, payload, created_at, trace, mode, lease_until)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`)
	for i := range events {
		e := &events[i]
		if e.Mode == rollout.Sync {
			continue
		}
		if _, ok := o.routes[e.Type]; !ok {
			return fmt.Errorf("outbox add %s: %w", e.Type, ErrNoRoute)
		}
		if e.ID == "" {
			e.ID = NewID()
		}
		if e.Mode == "" {
			e.Mode = rollout.DefaultMode
		}
		payload := string(e.Payload)
		if strings.TrimSpace(payload) == "" {
			payload = "{}"
		}
		e.CreatedAt = now
		if _, err := tx.ExecContext(ctx, q, e.ID, e.Type, payload, now, e.Trace, string(e.Mode),
			now.Add(o.cfg.Grace).UnixMilli()); err != nil {
			return fmt.Errorf("outbox add %s: %w", e.Type, err)
		}
	}
	return nil
}

// ErrBackendDown is returned by Publish while the queue backend was
// recently unreachable: the events stay in the outbox for the relay.
var ErrBackendDown = errors.New("queue backend unreachable; events left to the outbox relay")

// Published is one event the fast path published: the job it became. For
// a deduplicated add, JobID is the job the event was coalesced into.
type Published struct {
	EventID string
	JobID   string
}

// Publish is the fast path: after the commit it publishes events to their
// jobs at once, marks them published and reports the jobs, in the events'
// order (sync events and those left to the relay are not listed). It never
// blocks for longer than PublishTimeout; whatever it cannot publish stays
// in the outbox and the relay publishes it later, so callers may ignore
// the error (it is logged).
func (o *Outbox) Publish(ctx context.Context, events ...Event) ([]Published, error) {
	var todo []Event
	for _, e := range events {
		if e.Mode != rollout.Sync {
			todo = append(todo, e)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	if o.backendDown() {
		o.m.deferred.Add(float64(len(todo)))
		return nil, ErrBackendDown
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.PublishTimeout)
	defer cancel()
	var done []string
	var out []Published
	var err error
	for _, e := range todo {
		var jobID string
		if jobID, err = o.publishOne(ctx, e); err != nil {
			break
		}
		done = append(done, e.ID)
		out = append(out, Published{EventID: e.ID, JobID: jobID})
	}
	if len(done) > 0 {
		if merr := o.markPublished(ctx, "event_id", anySlice(done)); merr != nil {
			// The jobs exist; the relay will republish, which is a no-op.
			o.log.WarnContext(ctx, "outbox: mark published", "err", merr)
		}
		o.m.published.WithLabelValues("fast").Add(float64(len(done)))
	}
	if err != nil {
		o.m.deferred.Add(float64(len(todo) - len(done)))
		if !permanent(err) {
			o.markDown(time.Second)
		}
		o.log.WarnContext(ctx, "outbox: fast path left events to the relay", "events", len(todo)-len(done), "err", err)
		return out, err
	}
	return out, nil
}

// publishOne adds e's job and returns its id.
func (o *Outbox) publishOne(ctx context.Context, e Event) (string, error) {
	r, ok := o.routes[e.Type]
	if !ok {
		return "", fmt.Errorf("publish %s %s: %w", e.Type, e.ID, ErrNoRoute)
	}
	data, opts, err := r.Build(e)
	if err != nil {
		return "", fmt.Errorf("publish %s %s: %w", e.Type, e.ID, err)
	}
	j, err := o.jobs.Add(ctx, r.Queue, r.Job, data, opts)
	if err != nil {
		return "", fmt.Errorf("publish %s %s: %w", e.Type, e.ID, err)
	}
	if j == nil {
		return "", nil
	}
	return j.ID, nil
}

// permanent reports errors a retry cannot fix.
func permanent(err error) bool {
	return errors.Is(err, ErrNoRoute) || errors.Is(err, ErrBadPayload) || errors.Is(err, jobq.ErrInvalidOption)
}

func (o *Outbox) backendDown() bool { return o.cfg.Now().UnixMilli() < o.downUntil.Load() }

func (o *Outbox) markDown(d time.Duration) {
	o.downUntil.Store(o.cfg.Now().Add(d).UnixMilli())
	o.m.backendUp.Set(0)
}

func (o *Outbox) markUp() {
	o.downUntil.Store(0)
	o.m.backendUp.Set(1)
}

// markPublished sets published_at on rows whose column (id or event_id)
// is in vals.
func (o *Outbox) markPublished(ctx context.Context, column string, vals []any) error {
	now := o.cfg.Now().UTC()
	for len(vals) > 0 {
		n := min(len(vals), 500)
		q := o.st.Rebind("UPDATE outbox SET published_at = ?, lease_until = 0, last_error = NULL WHERE published_at IS NULL AND " +
			column + " IN (?" + strings.Repeat(",?", n-1) + ")")
		if _, err := o.st.DB().ExecContext(ctx, q, append([]any{now}, vals[:n]...)...); err != nil {
			return fmt.Errorf("mark outbox rows published: %w", err)
		}
		vals = vals[n:]
	}
	return nil
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
