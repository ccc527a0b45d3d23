// Package seed fills a store with realistic, deterministic demo data:
// Iranian cities, salons with Persian and English names, power-law review
// counts with consistent rating aggregates, and blog posts.
package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// Base is the fixed "now" of generated data, so a seed value always yields
// the same rows.
var Base = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// Options says how much to generate. Zero counts generate nothing of that
// kind; salons go to the new cities, or to existing ones when Cities is 0.
type Options struct {
	Cities, Salons, Reviews, Posts int
	// Seed makes the data reproducible; the same seed on an empty store
	// gives the same rows.
	Seed uint64
	// Progress receives a progress bar per phase; nil draws none.
	Progress io.Writer
}

// Result counts the rows inserted.
type Result struct {
	Cities, Users, Salons, Reviews, Posts, Redirects int
}

// Demo is the small data set `atlas run --demo` seeds on first start.
var Demo = Options{Cities: 20, Salons: 500, Reviews: 5000, Posts: 30, Seed: 1}

// ErrInvalid is returned for options that cannot be satisfied.
var ErrInvalid = errors.New("invalid seed options")

// Run inserts the data described by o into s. It expects no concurrent
// writers; ids continue after the largest existing ones.
func Run(ctx context.Context, s *store.Store, o Options) (Result, error) {
	if o.Cities < 0 || o.Salons < 0 || o.Reviews < 0 || o.Posts < 0 {
		return Result{}, fmt.Errorf("%w: counts must not be negative", ErrInvalid)
	}
	if o.Reviews > 0 && o.Salons == 0 {
		return Result{}, fmt.Errorf("%w: reviews need --salons > 0", ErrInvalid)
	}
	g := &gen{s: s, o: o, rng: rand.New(rand.NewPCG(o.Seed, 0xa71a5))}
	var res Result
	steps := []struct {
		name string
		fn   func(context.Context, *sql.Tx) (int, error)
		out  *int
	}{
		{"cities", g.cities, &res.Cities},
		{"users", g.users, &res.Users},
		{"salons", g.salons, &res.Salons},
		{"reviews", g.reviews, &res.Reviews},
		{"posts", g.posts, &res.Posts},
		{"redirects", g.redirects, &res.Redirects},
	}
	for _, st := range steps {
		n, err := g.inTx(ctx, st.fn)
		if err != nil {
			return res, fmt.Errorf("seed %s: %w", st.name, err)
		}
		*st.out = n
	}
	if err := s.RefreshCityStats(ctx, Base); err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	return res, nil
}

// gen carries the state shared by the phases.
type gen struct {
	s   *store.Store
	o   Options
	rng *rand.Rand

	cityIDs   []int64 // cities salons go to, most populous first
	citySlugs []string
	userIDs   [2]int64 // [first, last] user id for reviews
	salonIDs  [2]int64 // [first, last] new salon id
	plans     []salonPlan
}

// salonPlan is what the reviews phase needs to know about a new salon.
type salonPlan struct {
	id        int64
	quality   float64
	reviews   int
	createdAt time.Time
}

func (g *gen) inTx(ctx context.Context, fn func(context.Context, *sql.Tx) (int, error)) (int, error) {
	tx, err := g.s.DB().BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	n, err := fn(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

func (g *gen) bar(label string, total int) *progress {
	return newProgress(g.o.Progress, label, total, time.Now)
}

// nextID returns one more than the largest id in table.
func nextID(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	var id int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM "+table).Scan(&id); err != nil {
		return 0, fmt.Errorf("max id of %s: %w", table, err)
	}
	return id + 1, nil
}

// syncSequence moves PostgreSQL's identity sequence past explicit ids.
func (g *gen) syncSequence(ctx context.Context, tx *sql.Tx, table string) error {
	if g.s.Dialect() != store.Postgres {
		return nil
	}
	q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s))", table, table)
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("sync %s sequence: %w", table, err)
	}
	return nil
}

// finish flushes in and syncs the table's sequence.
func (g *gen) finish(ctx context.Context, tx *sql.Tx, in *inserter, n int) (int, error) {
	if err := in.flush(ctx); err != nil {
		return 0, err
	}
	in.bar.finish()
	if n == 0 {
		return 0, nil
	}
	return n, g.syncSequence(ctx, tx, in.table)
}

// pick returns an index in [0, n) skewed towards 0 (a power law), so the
// first cities get the most salons.
func (g *gen) pick(n int) int {
	return min(int(float64(n)*math.Pow(g.rng.Float64(), 2.2)), n-1)
}

// between returns a time uniformly in [from, to).
func between(r *rand.Rand, from, to time.Time) time.Time {
	d := to.Sub(from)
	if d <= 0 {
		return from
	}
	return from.Add(time.Duration(r.Int64N(int64(d)))).Truncate(time.Microsecond)
}

// reviewCounts splits total reviews over n salons with Pareto-distributed
// weights: most salons get a few reviews, a few get very many. The counts
// sum to total exactly.
func reviewCounts(r *rand.Rand, n, total int) []int {
	counts := make([]int, n)
	if n == 0 || total == 0 {
		return counts
	}
	const alpha = 1.2
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		w[i] = min(math.Pow(1-r.Float64(), -1/alpha), 2000)
		sum += w[i]
	}
	given := 0
	frac := make([]int, n)
	for i := range w {
		exact := float64(total) * w[i] / sum
		counts[i] = int(exact)
		given += counts[i]
		frac[i] = i
	}
	// Largest remainder: the salons closest to the next review get one.
	sort.SliceStable(frac, func(a, b int) bool {
		ea := float64(total)*w[frac[a]]/sum - float64(counts[frac[a]])
		eb := float64(total)*w[frac[b]]/sum - float64(counts[frac[b]])
		return ea > eb
	})
	for i := 0; given < total; i = (i + 1) % n {
		counts[frac[i]]++
		given++
	}
	return counts
}
