package seed

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/sevra/atlas/internal/store"
)

func (g *gen) cities(ctx context.Context, tx *sql.Tx) (int, error) {
	taken := map[string]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT id, slug FROM cities ORDER BY id")
	if err != nil {
		return 0, fmt.Errorf("list cities: %w", err)
	}
	var existing []int64
	var existingSlugs []string
	for rows.Next() {
		var id int64
		var slug string
		if err := rows.Scan(&id, &slug); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan city: %w", err)
		}
		taken[slug] = true
		existing, existingSlugs = append(existing, id), append(existingSlugs, slug)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list cities: %w", err)
	}
	if g.o.Cities == 0 {
		if g.o.Salons > 0 && len(existing) == 0 {
			return 0, fmt.Errorf("%w: salons need --cities > 0 on an empty database", ErrInvalid)
		}
		g.cityIDs, g.citySlugs = existing, existingSlugs
		return 0, nil
	}
	id, err := nextID(ctx, tx, "cities")
	if err != nil {
		return 0, err
	}
	in := newInserter(tx, g.s.Dialect(), "cities", []string{"id", "slug", "name", "name_fa", "province"}, g.bar("cities", g.o.Cities))
	for i := range g.o.Cities {
		c := cityAt(i)
		slug := c.slug
		for n := 2; taken[slug]; n++ {
			slug = fmt.Sprintf("%s-%d", c.slug, n)
		}
		taken[slug] = true
		if err := in.add(ctx, id, slug, c.name, c.nameFa, c.province); err != nil {
			return 0, err
		}
		g.cityIDs, g.citySlugs = append(g.cityIDs, id), append(g.citySlugs, slug)
		id++
	}
	return g.finish(ctx, tx, in, g.o.Cities)
}

func (g *gen) users(ctx context.Context, tx *sql.Tx) (int, error) {
	if g.o.Reviews == 0 {
		return 0, nil
	}
	n := max(1, min(g.o.Reviews/50, 50000))
	id, err := nextID(ctx, tx, "users")
	if err != nil {
		return 0, err
	}
	g.userIDs = [2]int64{id, id + int64(n) - 1}
	in := newInserter(tx, g.s.Dialect(), "users", []string{"id", "phone", "role", "created_at"}, g.bar("users", n))
	for i := range n {
		uid := id + int64(i)
		// +98 9xx xxx xxxx: an Iranian mobile number, unique per id.
		phone := fmt.Sprintf("+989%09d", uid%1_000_000_000)
		if err := in.add(ctx, uid, phone, "user", between(g.rng, Base.AddDate(-3, 0, 0), Base)); err != nil {
			return 0, err
		}
	}
	return g.finish(ctx, tx, in, n)
}

// reviewRNG returns the random source of one salon's reviews, so the salons
// phase (aggregates) and the reviews phase (rows) draw the same ratings.
func (g *gen) reviewRNG(salonIndex int) *rand.Rand {
	return rand.New(rand.NewPCG(g.o.Seed^0x7e71e35, uint64(salonIndex)))
}

// review is one generated review.
type review struct {
	user      int64
	rating    int
	body      string
	status    string
	createdAt time.Time
}

// nextReview draws one review of salon p from r.
func (g *gen) nextReview(r *rand.Rand, p salonPlan) review {
	rating := int(math.Round(p.quality + r.NormFloat64()*0.9))
	rating = min(max(rating, 1), 5)
	status := "published"
	switch x := r.IntN(100); {
	case x < 3:
		status = "pending"
	case x < 5:
		status = "rejected"
	}
	return review{
		user:      g.userIDs[0] + r.Int64N(g.userIDs[1]-g.userIDs[0]+1),
		rating:    rating,
		body:      reviewBodies[r.IntN(len(reviewBodies))],
		status:    status,
		createdAt: between(r, p.createdAt, Base),
	}
}

func (g *gen) salons(ctx context.Context, tx *sql.Tx) (int, error) {
	n := g.o.Salons
	if n == 0 {
		return 0, nil
	}
	id, err := nextID(ctx, tx, "salons")
	if err != nil {
		return 0, err
	}
	g.salonIDs = [2]int64{id, id + int64(n) - 1}
	counts := reviewCounts(g.rng, n, g.o.Reviews)
	cols := []string{"id", "slug", "name", "city_id", "verified", "rating_sum", "rating_count", "rating_avg",
		"bayesian_score", "created_at", "updated_at", "address"}
	in := newInserter(tx, g.s.Dialect(), "salons", cols, g.bar("salons", n))
	g.plans = make([]salonPlan, n)
	for i := range n {
		sid := id + int64(i)
		city := g.pick(len(g.cityIDs))
		stem, kind := salonStems[g.rng.IntN(len(salonStems))], salonKinds[g.rng.IntN(len(salonKinds))]
		name := stem.en + " " + kind.en
		if g.rng.IntN(2) == 0 {
			name = kind.fa + " " + stem.fa
		}
		slug := fmt.Sprintf("%s-%s-%d", slugify(stem.en+" "+kind.en), g.citySlugs[city], sid)
		created := between(g.rng, Base.AddDate(-4, 0, 0), Base.AddDate(0, -1, 0))
		p := salonPlan{id: sid, quality: 2.4 + 2.4*g.rng.Float64(), reviews: counts[i], createdAt: created}
		g.plans[i] = p
		var sum, cnt int64
		r := g.reviewRNG(i)
		for range p.reviews {
			if rv := g.nextReview(r, p); rv.status == "published" {
				sum += int64(rv.rating)
				cnt++
			}
		}
		avg := 0.0
		if cnt > 0 {
			avg = float64(sum) / float64(cnt)
		}
		verified := g.rng.IntN(5) == 0
		err := in.add(ctx, sid, slug, name, g.cityIDs[city], verified, sum, cnt, avg, store.BayesianScore(sum, cnt),
			created, created.Add(time.Duration(g.rng.IntN(720))*time.Hour), address(sid))
		if err != nil {
			return 0, err
		}
	}
	return g.finish(ctx, tx, in, n)
}

func (g *gen) reviews(ctx context.Context, tx *sql.Tx) (int, error) {
	if g.o.Reviews == 0 {
		return 0, nil
	}
	id, err := nextID(ctx, tx, "reviews")
	if err != nil {
		return 0, err
	}
	cols := []string{"id", "salon_id", "user_id", "rating", "body", "status", "created_at"}
	in := newInserter(tx, g.s.Dialect(), "reviews", cols, g.bar("reviews", g.o.Reviews))
	n := 0
	for i, p := range g.plans {
		r := g.reviewRNG(i)
		for range p.reviews {
			rv := g.nextReview(r, p)
			if err := in.add(ctx, id, p.id, rv.user, rv.rating, rv.body, rv.status, rv.createdAt); err != nil {
				return 0, err
			}
			id++
			n++
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	return g.finish(ctx, tx, in, n)
}

func (g *gen) posts(ctx context.Context, tx *sql.Tx) (int, error) {
	if g.o.Posts == 0 {
		return 0, nil
	}
	id, err := nextID(ctx, tx, "posts")
	if err != nil {
		return 0, err
	}
	in := newInserter(tx, g.s.Dialect(), "posts", []string{"id", "slug", "title", "body", "published_at", "updated_at"}, g.bar("posts", g.o.Posts))
	for i := range g.o.Posts {
		pid := id + int64(i)
		c := cities[g.pick(len(cities))]
		topic := postTopics[g.rng.IntN(len(postTopics))]
		title := fmt.Sprintf(topic.en, c.name)
		if g.rng.IntN(3) == 0 {
			title = fmt.Sprintf(topic.fa, c.nameFa)
		}
		slug := fmt.Sprintf("%s-%d", slugify(fmt.Sprintf(topic.en, c.name)), pid)
		body := fmt.Sprintf("%s.\n\nA short guide to %s: what to look for, prices to expect, and the salons our readers rate best.\n\n%s",
			title, c.name, reviewBodies[g.rng.IntN(len(reviewBodies))])
		var published *time.Time
		switch x := g.rng.IntN(10); {
		case x == 0: // a draft
		case x == 1: // scheduled for later
			t := between(g.rng, Base.AddDate(10, 0, 0), Base.AddDate(11, 0, 0))
			published = &t
		default:
			t := between(g.rng, Base.AddDate(-2, 0, 0), Base)
			published = &t
		}
		if err := in.add(ctx, pid, slug, title, body, published, Base); err != nil {
			return 0, err
		}
	}
	return g.finish(ctx, tx, in, g.o.Posts)
}

// redirects records an old slug for about 1% of the new salons, so a 301
// can be tried right after seeding.
func (g *gen) redirects(ctx context.Context, tx *sql.Tx) (int, error) {
	if len(g.plans) == 0 {
		return 0, nil
	}
	in := newInserter(tx, g.s.Dialect(), "slug_history", []string{"entity", "old_slug", "entity_id", "created_at"}, nil)
	n := 0
	for i := 0; i < len(g.plans); i += 100 {
		p := g.plans[i]
		if err := in.add(ctx, "salon", fmt.Sprintf("old-salon-%d", p.id), p.id, Base); err != nil {
			return 0, err
		}
		n++
	}
	if err := in.flush(ctx); err != nil {
		return 0, err
	}
	return n, nil
}
