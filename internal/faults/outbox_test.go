package faults

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
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
			const posters = 4
			var offered, created atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			salons := append([]string(nil), r.spare...)
			for p := range posters {
				tok := r.sessionFor(t, r.addUser(t, fmt.Sprintf("+98912555%04d", p)))
				wg.Go(func() {
					c := &http.Client{Timeout: 30 * time.Second}
					for i, slug := range salons {
						select {
						case <-stop:
							return
						default:
						}
						body := fmt.Sprintf(`{"rating":%d,"body":"Outbox scenario review %d by poster %d."}`, (i+p)%5+1, i, p)
						req, _ := http.NewRequest("POST", r.url+"/api/v1/salons/"+slug+"/reviews", bytes.NewReader([]byte(body)))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("Authorization", "Bearer "+tok)
						offered.Add(1)
						resp, err := c.Do(req)
						if err != nil {
							t.Errorf("POST review: %v", err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusCreated {
							t.Errorf("POST review for %s: %d, want 201", slug, resp.StatusCode)
							continue
						}
						created.Add(1)
						time.Sleep(10 * time.Millisecond)
					}
				})
			}
			time.Sleep(pick(2*time.Second, 10*time.Second))
			rds.kill()
			time.Sleep(time.Second)
			restartAt := time.Now()
			rds.start()
			time.Sleep(pick(2*time.Second, 10*time.Second))
			close(stop)
			wg.Wait()

			// Wait until the outbox is empty and the aggregates agree.
			var pending, wrong int
			deadline := time.Now().Add(2 * time.Minute)
			var settled time.Duration
			for {
				pending, wrong = r.outboxPending(t), r.wrongAggregates(t)
				if pending == 0 && wrong == 0 {
					settled = time.Since(restartAt)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("2 min after the restart: %d outbox events unpublished, %d salons with a wrong aggregate", pending, wrong)
				}
				time.Sleep(200 * time.Millisecond)
			}
			record(t, row{Scenario: "Redis SIGKILL + AOF restart under review POSTs (outbox)", Backend: "redis + " + eng.name + " (app)",
				Offered: int(offered.Load()), Completed: int(created.Load()), Lost: int(offered.Load() - created.Load()),
				Recovery: settled,
				Notes:    "completed = POSTs answered 201 whose outbox event was published and whose salon aggregate matches SQL; recovery = restart → outbox empty and every aggregate right"})
		})
	}
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
