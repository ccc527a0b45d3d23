package otp_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/outbox"
	"github.com/sevra/atlas/internal/ratelimit"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
	"github.com/sevra/atlas/jobq"
)

// The numbers the tests use, in E.164.
const (
	phoneA = "+989121234567"
	phoneB = "+989351234567"
	phoneC = "+989191112233"
	phoneD = "+989127654321"
)

// secret is the server secret of every test service (32 bytes).
var secret = []byte("0123456789abcdef0123456789abcdef")

// t0 is the fake clock's start: whole seconds, so no timestamp written by
// the tests carries a fraction that could look like a code.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// dialects runs test on SQLite and on PostgreSQL (skipped without
// ATLAS_TEST_DATABASE_URL).
func dialects(t *testing.T, test func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, d := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			test(t, d.open(t))
		})
	}
}

// clock is a fake clock shared by the service, the sessions, the rate
// limiter and the outbox.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// options vary a rig.
type options struct {
	provider  sms.Provider // default: the rig's *fakeSMS
	mode      rollout.Mode
	ttl       time.Duration
	countries []string
	limits    otp.Limits
	limiter   bool // a ratelimit.Memory on the rig's clock
	shadow    rollout.Comparer
	logs      *syncBuffer // default: a new one
}

// rig is a Service on a store with fakes around it.
type rig struct {
	st       *store.Store
	clock    *clock
	sms      *fakeSMS
	jobs     *fakeJobs
	outbox   *recOutbox
	sessions *auth.Sessions
	reg      *prometheus.Registry
	logs     *syncBuffer
	svc      *otp.Service
}

func newRig(t testing.TB, st *store.Store, o options) *rig {
	t.Helper()
	r := &rig{st: st, clock: newClock(), sms: &fakeSMS{}, jobs: &fakeJobs{}, reg: prometheus.NewRegistry(), logs: o.logs}
	if r.logs == nil {
		r.logs = &syncBuffer{}
	}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	routes, err := outbox.NewRoutes(otp.Routes()...)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(outbox.Config{Store: st, Jobs: r.jobs, Routes: routes, Logger: log, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.outbox = &recOutbox{Outbox: ob}
	r.sessions = auth.NewSessions(st, time.Hour, r.clock.Now)
	provider := o.provider
	switch p := provider.(type) {
	case nil:
		provider = r.sms
	case *fakeSMS:
		r.sms = p
	case reconcilingSMS:
		r.sms = p.fakeSMS
	case verifyingSMS:
		r.sms = p.fakeSMS
	}
	var limiter otp.Limiter
	if o.limiter {
		limiter = ratelimit.NewMemory(ratelimit.MemoryConfig{Now: r.clock.Now})
	}
	r.svc, err = otp.New(otp.Config{Store: st, Outbox: r.outbox, Sessions: r.sessions, Provider: provider,
		Secret: secret, TTL: o.ttl, Countries: o.countries, Limits: o.limits, Limiter: limiter,
		Mode: o.mode, Shadow: o.shadow, Logger: log, Registry: r.reg, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noLimits turns every rate limit off (an empty, non-nil list).
func noLimits() otp.Limits {
	return otp.Limits{Phone: []ratelimit.Rule{}}
}

// request asks for a code for raw and fails the test on an error.
func (r *rig) request(t testing.TB, raw string) otp.Challenge {
	t.Helper()
	c, err := r.svc.Request(context.Background(), raw, "")
	if err != nil {
		t.Fatalf("Request(%q): %v", raw, err)
	}
	return c
}

// job builds the send-otp job the outbox published for challenge id, as
// the worker would hand it to the handler on attempt made+1.
func (r *rig) job(t testing.TB, id string, made int) *jobq.Job {
	t.Helper()
	want := "otp-" + id
	for _, c := range r.jobs.all() {
		if c.opts.JobID == want {
			opts := c.opts
			opts.Attempts = 5
			return &jobq.Job{ID: c.opts.JobID, Name: c.name, Queue: c.queue, Data: c.data, Opts: opts, AttemptsMade: made}
		}
	}
	t.Fatalf("no job %s among %d published", want, len(r.jobs.all()))
	return nil
}

// send runs the send-otp job of challenge id (first attempt).
func (r *rig) send(t testing.TB, id string) (any, error) {
	t.Helper()
	return r.svc.HandleSend(context.Background(), r.job(t, id, 0))
}

// code requests a code for raw, runs its send-otp job and returns the
// challenge and the code the provider received.
func (r *rig) code(t testing.TB, raw string) (otp.Challenge, string) {
	t.Helper()
	c := r.request(t, raw)
	if _, err := r.send(t, c.ID); err != nil {
		t.Fatalf("send-otp: %v", err)
	}
	m := r.sms.last(t, c.ID)
	if len(m.Code) != 6 {
		t.Fatalf("provider got code %q, want 6 digits", m.Code)
	}
	return c, m.Code
}

// count runs a SELECT count(*) query.
func count(t testing.TB, st *store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRowContext(context.Background(), st.Rebind(q), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// attempts reads a challenge's attempts column.
func attempts(t testing.TB, st *store.Store, id string) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRowContext(context.Background(), st.Rebind("SELECT attempts FROM otp_challenges WHERE id = ?"), id).Scan(&n); err != nil {
		t.Fatalf("attempts of %s: %v", id, err)
	}
	return n
}

// delivery is a challenge's delivery columns.
type delivery struct {
	sentAt, consumedAt           sql.NullTime
	provider, messageID, lastErr sql.NullString
}

func readDelivery(t testing.TB, st *store.Store, id string) delivery {
	t.Helper()
	var d delivery
	err := st.DB().QueryRowContext(context.Background(), st.Rebind(`SELECT sent_at, consumed_at, provider, message_id, last_error
		FROM otp_challenges WHERE id = ?`), id).Scan(&d.sentAt, &d.consumedAt, &d.provider, &d.messageID, &d.lastErr)
	if err != nil {
		t.Fatalf("delivery of %s: %v", id, err)
	}
	return d
}

// addUser inserts a user and returns its id.
func addUser(t testing.TB, st *store.Store, e164, role string) int64 {
	t.Helper()
	var id int64
	err := st.DB().QueryRowContext(context.Background(), st.Rebind(`INSERT INTO users (phone, role, created_at) VALUES (?, ?, ?) RETURNING id`),
		e164, role, t0).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// isUnrecoverable reports whether the worker would fail the job at once.
func isUnrecoverable(err error) bool {
	var u *jobq.UnrecoverableError
	return errors.As(err, &u)
}

// result returns a handler result's "result" entry.
func result(t testing.TB, v any) string {
	t.Helper()
	switch m := v.(type) {
	case map[string]string:
		return m["result"]
	case map[string]any:
		s, _ := m["result"].(string)
		return s
	}
	t.Fatalf("handler result %#v is not a map", v)
	return ""
}

// openSQLite opens a SQLite store, for tests whose subject has nothing
// dialect-specific.
func openSQLite(t testing.TB) *store.Store { return storetest.OpenSQLite(t) }

// metric returns the value of the counter name{label=value} (label empty:
// no labels) in reg, 0 when it has no sample.
func metric(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
