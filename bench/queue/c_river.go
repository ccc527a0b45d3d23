package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	_ "modernc.org/sqlite"
)

// riverFetchCooldown replaces River's 100 ms default (which caps a
// concurrency-1 worker at 10 jobs/s); River's own `river bench` uses 2 ms.
const riverFetchCooldown = 2 * time.Millisecond

type benchArgs struct {
	payload
}

func (benchArgs) Kind() string { return "bench" }

type benchWorker struct {
	river.WorkerDefaults[benchArgs]
	h       handler
	backoff time.Duration
}

func (w *benchWorker) Work(ctx context.Context, job *river.Job[benchArgs]) error {
	return w.h(job.Args.payload, job.Attempt)
}

func (w *benchWorker) NextRetry(job *river.Job[benchArgs]) time.Time {
	return time.Now().Add(w.backoff)
}

// riverC is River v0.51 on PostgreSQL (pgx) or SQLite (modernc).
type riverC struct {
	name   string
	s      *Spec
	pool   *pgxpool.Pool
	db     *sql.DB
	worker *benchWorker
	ins    inserter
	run    inserter
	opts   river.InsertOpts
}

// inserter hides the client's transaction type.
type inserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
	InsertMany(ctx context.Context, ps []river.InsertManyParams) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

type clientOf[TTx any] struct{ c *river.Client[TTx] }

func (c clientOf[TTx]) Insert(ctx context.Context, a river.JobArgs, o *river.InsertOpts) error {
	_, err := c.c.Insert(ctx, a, o)
	return err
}
func (c clientOf[TTx]) InsertMany(ctx context.Context, ps []river.InsertManyParams) error {
	_, err := c.c.InsertMany(ctx, ps)
	return err
}
func (c clientOf[TTx]) Start(ctx context.Context) error { return c.c.Start(ctx) }
func (c clientOf[TTx]) Stop(ctx context.Context) error  { return c.c.Stop(ctx) }

func newRiverClient[TTx any](drv riverdriver.Driver[TTx], cfg *river.Config) (inserter, error) {
	c, err := river.NewClient(drv, cfg)
	if err != nil {
		return nil, err
	}
	return clientOf[TTx]{c}, nil
}

func migrateRiver[TTx any](ctx context.Context, drv riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

func (c *riverC) config(conc int) *river.Config {
	workers := river.NewWorkers()
	river.AddWorker(workers, c.worker)
	cfg := &river.Config{
		Workers:       workers,
		Logger:        slog.New(slog.DiscardHandler),
		FetchCooldown: riverFetchCooldown,
		MaxAttempts:   max(c.s.Attempts, 1),
	}
	if conc > 0 {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: conc}}
	}
	return cfg
}

func (c *riverC) newClient(conc int) (inserter, error) {
	if c.pool != nil {
		return newRiverClient(riverpgxv5.New(c.pool), c.config(conc))
	}
	return newRiverClient(riversqlite.New(c.db), c.config(conc))
}

func (c *riverC) setup(ctx context.Context, s *Spec) error {
	c.s = s
	c.worker = &benchWorker{backoff: time.Duration(s.BackoffMS) * time.Millisecond}
	c.opts = river.InsertOpts{MaxAttempts: max(s.Attempts, 1)}
	var err error
	switch c.name {
	case "river-pg":
		pc, err := pgxpool.ParseConfig(s.PGURL)
		if err != nil {
			return err
		}
		// Capped so that c=100 stays under a default max_connections of
		// 100 on a server others use too; producers beyond it wait for a
		// connection.
		pc.MaxConns = int32(min(max(10, s.Conc+5), 40))
		if c.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
			return err
		}
		if err := migrateRiver(ctx, riverpgxv5.New(c.pool)); err != nil {
			return err
		}
		if _, err := c.pool.Exec(ctx, "TRUNCATE river_job, river_leader, river_queue"); err != nil {
			return err
		}
		_, _ = c.pool.Exec(ctx, "VACUUM ANALYZE river_job")
	case "river-sqlite":
		// WAL with synchronous FULL, as jobqsqlite's default; one
		// connection, as riversqlite's documentation advises.
		c.db, err = sql.Open("sqlite", "file:"+s.SQLite+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_txlock=immediate")
		if err != nil {
			return err
		}
		c.db.SetMaxOpenConns(1)
		if err := migrateRiver(ctx, riversqlite.New(c.db)); err != nil {
			return err
		}
	}
	c.ins, err = c.newClient(0)
	return err
}

func (c *riverC) add(ctx context.Context, p payload, delay time.Duration) error {
	o := c.opts
	if delay > 0 {
		o.ScheduledAt = time.Now().Add(delay)
	}
	return c.ins.Insert(ctx, benchArgs{p}, &o)
}

func (c *riverC) addBulk(ctx context.Context, ps []payload) error {
	ms := make([]river.InsertManyParams, len(ps))
	for i, p := range ps {
		ms[i] = river.InsertManyParams{Args: benchArgs{p}, InsertOpts: &c.opts}
	}
	return c.ins.InsertMany(ctx, ms)
}

func (c *riverC) startWorker(ctx context.Context, conc int, h handler) error {
	c.worker.h = h
	cl, err := c.newClient(conc)
	if err != nil {
		return err
	}
	c.run = cl
	return cl.Start(ctx)
}

func (c *riverC) settle(ctx context.Context) error {
	const q = `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`
	for {
		var n int
		var err error
		if c.pool != nil {
			err = c.pool.QueryRow(ctx, q).Scan(&n)
		} else {
			err = c.db.QueryRowContext(ctx, q).Scan(&n)
		}
		if err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		if n == 0 {
			return nil
		}
		if !sleepCtx(ctx, 2*time.Millisecond) {
			return ctx.Err()
		}
	}
}

func (c *riverC) close() {
	if c.run != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.run.Stop(ctx)
		cancel()
	}
	if c.pool != nil {
		c.pool.Close()
	}
	if c.db != nil {
		c.db.Close()
	}
}

var _ = pgx.ErrNoRows
