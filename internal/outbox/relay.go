package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/store"
)

// RelayConfig configures a Relay. Zero fields take the stated defaults.
type RelayConfig struct {
	// Interval is the pause between passes when there is nothing to do;
	// default 1s.
	Interval time.Duration
	// BatchSize is the number of rows claimed per pass; default 100.
	BatchSize int
	// MinBackoff and MaxBackoff bound the exponential backoff (with
	// jitter) while the queue backend is unreachable; defaults 200ms, 10s.
	MinBackoff, MaxBackoff time.Duration
	// PruneEvery is how often published rows past the retention are
	// deleted; default 1m.
	PruneEvery time.Duration
	// StatsEvery is how often the backlog gauges are refreshed; default 10s.
	StatsEvery time.Duration
}

// Relay publishes events the fast path left behind. It is a component of
// the atlas process: Start launches its loop, Close stops it. Any number of
// relays, in any number of processes, may run over one outbox: each row is
// claimed by one relay at a time (FOR UPDATE SKIP LOCKED plus a lease on
// PostgreSQL, a lease written by a single UPDATE on SQLite), and a
// republish after a lapsed lease is a no-op thanks to the job id.
type Relay struct {
	o   *Outbox
	cfg RelayConfig

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRelay returns a relay over o.
func (o *Outbox) NewRelay(cfg RelayConfig) *Relay {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Interval, time.Second)
	def(&cfg.MinBackoff, 200*time.Millisecond)
	def(&cfg.MaxBackoff, 10*time.Second)
	def(&cfg.PruneEvery, time.Minute)
	def(&cfg.StatsEvery, 10*time.Second)
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	return &Relay{o: o, cfg: cfg}
}

// Name implements the component contract.
func (r *Relay) Name() string { return "outbox relay" }

// Start launches the relay loop. The loop outlives ctx's cancellation (so
// it keeps publishing while HTTP drains) and ends in Close.
func (r *Relay) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("outbox relay already started")
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.loop(lctx)
	}()
	return nil
}

// Close stops the loop and waits for it, within ctx.
func (r *Relay) Close(ctx context.Context) error {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("outbox relay: %w", ctx.Err())
	}
}

func (r *Relay) loop(ctx context.Context) {
	o := r.o
	var backoff time.Duration
	var lastPrune, lastStats time.Time
	for ctx.Err() == nil {
		n, err := o.PublishPending(ctx, r.cfg.BatchSize)
		wait := r.cfg.Interval
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if backoff == 0 {
				o.log.WarnContext(ctx, "outbox relay: queue backend unreachable; events wait in the outbox", "err", err)
				backoff = r.cfg.MinBackoff
			} else {
				backoff = min(backoff*2, r.cfg.MaxBackoff)
			}
			o.markDown(backoff + r.cfg.Interval)
			wait = backoff/2 + rand.N(backoff/2+1) // jitter in [backoff/2, backoff]
		default:
			if n > 0 {
				if backoff > 0 {
					o.log.InfoContext(ctx, "outbox relay: queue backend reachable again", "published", n)
					backoff = 0
				}
				o.markUp()
			}
			if n >= r.cfg.BatchSize {
				wait = 0
			}
		}
		now := time.Now()
		if now.Sub(lastStats) >= r.cfg.StatsEvery {
			lastStats = now
			if _, err := o.Backlog(ctx); err != nil && ctx.Err() == nil {
				o.log.WarnContext(ctx, "outbox relay: backlog", "err", err)
			}
		}
		if now.Sub(lastPrune) >= r.cfg.PruneEvery {
			lastPrune = now
			if _, err := o.Prune(ctx); err != nil && ctx.Err() == nil {
				o.log.WarnContext(ctx, "outbox relay: prune", "err", err)
			}
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// row is a claimed outbox row.
type row struct {
	id int64
	Event
}

// claim leases up to n unpublished rows whose lease has run out.
func (o *Outbox) claim(ctx context.Context, n int) ([]row, error) {
	now := o.cfg.Now()
	sub := "SELECT id FROM outbox WHERE published_at IS NULL AND lease_until <= ? ORDER BY id LIMIT ?"
	if o.st.Dialect() == store.Postgres {
		sub += " FOR UPDATE SKIP LOCKED"
	}
	q := o.st.Rebind(`UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN (` + sub + `)
		RETURNING id, event_id, type, payload, trace, mode, created_at`)
	rows, err := o.st.DB().QueryContext(ctx, q, now.Add(o.cfg.Lease).UnixMilli(), now.UnixMilli(), n)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var x row
		var payload, mode string
		if err := rows.Scan(&x.id, &x.ID, &x.Type, &payload, &x.Trace, &mode, &x.CreatedAt); err != nil {
			return nil, fmt.Errorf("claim outbox rows: %w", err)
		}
		x.Payload, x.Mode = json.RawMessage(payload), rollout.Mode(mode)
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	slices.SortFunc(out, func(a, b row) int { return int(a.id - b.id) })
	return out, nil
}

// PublishPending is one relay pass: it claims up to batch rows, publishes
// their jobs and marks them published. It returns the number published and
// the error that stopped it when the queue backend failed (the rest of the
// batch is released at once). Rows with a permanent error (no route, a bad
// payload) are kept with their error and retried hourly; they count in the
// backlog, so the alert tells an operator.
func (o *Outbox) PublishPending(ctx context.Context, batch int) (int, error) {
	rows, err := o.claim(ctx, batch)
	if err != nil {
		return 0, err
	}
	var done []any
	var ferr error
	rest := 0
	for i, x := range rows {
		if x.Mode == rollout.Sync {
			done = append(done, x.id)
			continue
		}
		_, err := o.publishOne(ctx, x.Event)
		if err == nil {
			done = append(done, x.id)
			continue
		}
		if permanent(err) {
			o.m.errors.WithLabelValues("permanent").Inc()
			o.log.ErrorContext(ctx, "outbox: event cannot be published", "event", x.ID, "type", x.Type, "err", err)
			o.setError(ctx, x.id, err, time.Hour)
			continue
		}
		o.m.errors.WithLabelValues("backend").Inc()
		ferr = err
		rest = i
		break
	}
	if len(done) > 0 {
		if err := o.markPublished(ctx, "id", done); err != nil {
			return 0, err
		}
		o.m.published.WithLabelValues("relay").Add(float64(len(done)))
	}
	if ferr != nil {
		var ids []any
		for _, x := range rows[rest:] {
			ids = append(ids, x.id)
		}
		o.release(ctx, ids, ferr)
		return len(done), ferr
	}
	return len(done), nil
}

// setError records a permanent error on a row and keeps it from the relay
// for retryIn.
func (o *Outbox) setError(ctx context.Context, id int64, err error, retryIn time.Duration) {
	q := o.st.Rebind("UPDATE outbox SET last_error = ?, lease_until = ? WHERE id = ?")
	if _, e := o.st.DB().ExecContext(ctx, q, truncate(err.Error(), 1000), o.cfg.Now().Add(retryIn).UnixMilli(), id); e != nil {
		o.log.WarnContext(ctx, "outbox: record error", "id", id, "err", e)
	}
}

// release gives claimed rows back at once (the backend failed) and records
// the error on them.
func (o *Outbox) release(ctx context.Context, ids []any, cause error) {
	if len(ids) == 0 {
		return
	}
	q := o.st.Rebind("UPDATE outbox SET lease_until = 0, last_error = ? WHERE published_at IS NULL AND id IN (?" +
		strings.Repeat(",?", len(ids)-1) + ")")
	if _, err := o.st.DB().ExecContext(context.WithoutCancel(ctx), q, append([]any{truncate(cause.Error(), 1000)}, ids...)...); err != nil {
		o.log.WarnContext(ctx, "outbox: release claims", "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Prune deletes published rows older than the retention and returns how
// many it deleted.
func (o *Outbox) Prune(ctx context.Context) (int64, error) {
	cutoff := o.cfg.Now().Add(-o.cfg.Retention).UTC()
	q := o.st.Rebind(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
		WHERE published_at IS NOT NULL AND published_at < ? LIMIT 5000)`)
	var total int64
	for {
		res, err := o.st.DB().ExecContext(ctx, q, cutoff)
		if err != nil {
			return total, fmt.Errorf("prune outbox: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 5000 {
			break
		}
	}
	o.m.pruned.Add(float64(total))
	return total, nil
}
