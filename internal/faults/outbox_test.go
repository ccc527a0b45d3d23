package faults

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/app"
)

// TestRedisKillOutbox: reviews are posted through the app's HTTP chain
// (SQLite and PostgreSQL, workers on, a private AOF Redis) while Redis is
// SIGKILLed and restarted from its AOF. Every POST answers 201, every
// outbox event is published once Redis is back, and every salon's stored
// aggregate ends equal to its published reviews, counted directly in SQL.
func TestRedisKillOutbox(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			rds := startAOFRedis(t)
			r := newAbuseRigWith(t, eng.url(t), func(c *app.Config) {
				c.Workers = true
				c.Redis.URL, c.Redis.Prefix = rds.url(), "faults"
			})
			p := startPosters(t, r, 4)
			time.Sleep(pick(2*time.Second, 10*time.Second))
			rds.kill()
			time.Sleep(time.Second)
			restartAt := time.Now()
			rds.start()
			time.Sleep(pick(2*time.Second, 10*time.Second))
			p.halt()

			// Wait until the outbox is empty and the aggregates agree.
			settled := r.settle(t, restartAt)
			record(t, row{Scenario: "Redis SIGKILL + AOF restart under review POSTs (outbox)", Backend: "redis + " + eng.name + " (app)",
				Offered: int(p.offered.Load()), Completed: int(p.created.Load()), Lost: int(p.offered.Load() - p.created.Load()),
				Recovery: settled,
				Notes:    "completed = POSTs answered 201 whose outbox event was published and whose salon aggregate matches SQL; recovery = restart → outbox empty and every aggregate right"})
		})
	}
}

// posters post reviews through the rig's HTTP chain, each as its own
// user, one review per salon, until halted.
type posters struct {
	offered, created atomic.Int64
	slowest          atomic.Int64 // ns
	stop             chan struct{}
	wg               sync.WaitGroup
}

func startPosters(t *testing.T, r *abuseRig, n int) *posters {
	ps := &posters{stop: make(chan struct{})}
	salons := append([]string(nil), r.spare...)
	for p := range n {
		tok := r.sessionFor(t, r.addUser(t, fmt.Sprintf("+98912555%04d", p)))
		ps.wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second}
			for i, slug := range salons {
				select {
				case <-ps.stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"rating":%d,"body":"Fault scenario review %d by poster %d."}`, (i+p)%5+1, i, p)
				req, _ := http.NewRequest("POST", r.url+"/api/v1/salons/"+slug+"/reviews", bytes.NewReader([]byte(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				ps.offered.Add(1)
				start := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("POST review: %v", err)
					return
				}
				resp.Body.Close()
				d := int64(time.Since(start))
				for old := ps.slowest.Load(); d > old && !ps.slowest.CompareAndSwap(old, d); old = ps.slowest.Load() {
				}
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("POST review for %s: %d, want 201", slug, resp.StatusCode)
					continue
				}
				ps.created.Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	return ps
}

func (ps *posters) halt() {
	close(ps.stop)
	ps.wg.Wait()
}

// settle waits until the outbox is empty and every aggregate is right,
// and returns how long after since that took.
func (r *abuseRig) settle(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pending, wrong := r.outboxPending(t), r.wrongAggregates(t)
		if pending == 0 && wrong == 0 {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 min on: %d outbox events unpublished, %d salons with a wrong aggregate", pending, wrong)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRedisStoppedAPI: Redis is stopped (SIGSTOP) for 4 s (long 10 s)
// while reviews are posted through the app (SQLite): every POST still
// answers 201 within 3 s (the outbox's publish gives up at its deadline
// instead of waiting for Redis), and after SIGCONT the outbox drains and
// every aggregate is right.
func TestRedisStoppedAPI(t *testing.T) {
	rds := startAOFRedis(t)
	r := newAbuseRigWith(t, "", func(c *app.Config) {
		c.Workers = true
		c.Redis.URL, c.Redis.Prefix = rds.url(), "faults"
	})
	p := startPosters(t, r, 4)
	time.Sleep(time.Second)
	hold := pick(4*time.Second, 10*time.Second)
	rds.signal(syscall.SIGSTOP)
	time.Sleep(hold)
	contAt := time.Now()
	rds.signal(syscall.SIGCONT)
	time.Sleep(time.Second)
	p.halt()
	settled := r.settle(t, contAt)
	slowest := time.Duration(p.slowest.Load())
	if slowest > 3*time.Second {
		t.Errorf("slowest POST took %s with Redis stopped, want at most 3 s", slowest)
	}
	record(t, row{Scenario: fmt.Sprintf("Redis SIGSTOP %s under review POSTs (outbox)", hold), Backend: "redis + sqlite (app)",
		Offered: int(p.offered.Load()), Completed: int(p.created.Load()), Lost: int(p.offered.Load() - p.created.Load()),
		Recovery: settled,
		Notes:    fmt.Sprintf("slowest POST %s (bound 3 s); recovery = SIGCONT → outbox empty and every aggregate right", slowest.Round(time.Millisecond))})
}

// outboxPending counts unpublished outbox events.
func (r *abuseRig) outboxPending(t *testing.T) int {
	t.Helper()
	var n int
	if err := r.st.DB().QueryRow("SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wrongAggregates counts salons whose stored rating count or sum differs
// from their published reviews.
func (r *abuseRig) wrongAggregates(t *testing.T) int {
	t.Helper()
	var n int
	err := r.st.DB().QueryRow(`SELECT count(*) FROM salons s LEFT JOIN (
		SELECT salon_id, count(*) AS c, sum(rating) AS r FROM reviews WHERE status = 'published' GROUP BY salon_id
	) v ON v.salon_id = s.id
	WHERE s.rating_count <> coalesce(v.c, 0) OR s.rating_sum <> coalesce(v.r, 0)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
