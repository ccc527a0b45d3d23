package otp_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/phone"
	"github.com/sevra/atlas/internal/queues"
	"github.com/sevra/atlas/internal/store"
)

func TestRequestAnswer(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c := r.request(t, "09121234567")
		if !hex32.MatchString(c.ID) {
			t.Errorf("challenge id %q, want 32 lower-case hex digits", c.ID)
		}
		if c.ExpiresIn != 5*time.Minute {
			t.Errorf("ExpiresIn = %s, want the default TTL 5m", c.ExpiresIn)
		}
		var (
			ph               string
			created, expires time.Time
			n                int
		)
		err := st.DB().QueryRowContext(context.Background(), st.Rebind(`SELECT phone, created_at, expires_at, attempts
			FROM otp_challenges WHERE id = ?`), c.ID).Scan(&ph, &created, &expires, &n)
		if err != nil {
			t.Fatal(err)
		}
		if ph != phoneA || !created.Equal(t0) || !expires.Equal(t0.Add(5*time.Minute)) || n != 0 {
			t.Errorf("row = %s, created %s, expires %s, attempts %d; want %s, %s, %s, 0",
				ph, created, expires, n, phoneA, t0, t0.Add(5*time.Minute))
		}
		d := readDelivery(t, st, c.ID)
		if d.sentAt.Valid || d.consumedAt.Valid || d.lastErr.Valid {
			t.Errorf("fresh challenge has delivery state %+v", d)
		}
		// The event is stored and published as the challenge's job.
		if n := count(t, st, "SELECT count(*) FROM outbox WHERE type = 'OTPRequested'"); n != 1 {
			t.Errorf("%d OTPRequested rows in the outbox, want 1", n)
		}
		jobs := r.jobs.all()
		if len(jobs) != 1 || jobs[0].queue != "notifications" || jobs[0].name != "send-otp" || jobs[0].opts.JobID != "otp-"+c.ID {
			t.Fatalf("jobs = %+v, want one send-otp job otp-%s on notifications", jobs, c.ID)
		}
		var data map[string]any
		if err := json.Unmarshal(jobs[0].data, &data); err != nil {
			t.Fatal(err)
		}
		if data["challengeId"] != c.ID || data["mode"] != "async" {
			t.Errorf("job data %s, want challengeId %s and mode async", jobs[0].data, c.ID)
		}
		// Async mode: nothing is sent in the request.
		if n := len(r.sms.messages()); n != 0 {
			t.Errorf("the request sent %d messages in async mode", n)
		}

		c2 := r.request(t, phoneB)
		if c2.ID == c.ID {
			t.Error("two requests got the same challenge id")
		}
	})
}

func TestRequestTTL(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	r := newRig(t, st, options{ttl: 3 * time.Minute})
	c := r.request(t, phoneA)
	if c.ExpiresIn != 3*time.Minute {
		t.Errorf("ExpiresIn = %s, want 3m", c.ExpiresIn)
	}
	var expires time.Time
	st.DB().QueryRowContext(context.Background(), "SELECT expires_at FROM otp_challenges WHERE id = ?", c.ID).Scan(&expires)
	if !expires.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("expires_at = %s, want %s", expires, t0.Add(3*time.Minute))
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	base := func() otp.Config {
		return otp.Config{Store: st, Outbox: &recOutbox{}, Sessions: newRig(t, st, options{}).sessions,
			Provider: &fakeSMS{}, Secret: secret}
	}
	for _, tc := range []struct {
		name string
		edit func(c *otp.Config)
		ok   bool
		want error
	}{
		{"complete", func(c *otp.Config) {}, true, nil},
		{"ttl 2m", func(c *otp.Config) { c.TTL = 2 * time.Minute }, true, nil},
		{"ttl 10m", func(c *otp.Config) { c.TTL = 10 * time.Minute }, true, nil},
		{"ttl 1m59s", func(c *otp.Config) { c.TTL = 2*time.Minute - time.Second }, false, nil},
		{"ttl 10m1s", func(c *otp.Config) { c.TTL = 10*time.Minute + time.Second }, false, nil},
		{"secret 31 bytes", func(c *otp.Config) { c.Secret = secret[:31] }, false, otp.ErrWeakSecret},
		{"no secret", func(c *otp.Config) { c.Secret = nil }, false, otp.ErrWeakSecret},
		{"no store", func(c *otp.Config) { c.Store = nil }, false, nil},
		{"no outbox", func(c *otp.Config) { c.Outbox = nil }, false, nil},
		{"no sessions", func(c *otp.Config) { c.Sessions = nil }, false, nil},
		{"no provider", func(c *otp.Config) { c.Provider = nil }, false, nil},
	} {
		cfg := base()
		tc.edit(&cfg)
		s, err := otp.New(cfg)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: New: %v", tc.name, err)
		case tc.ok && (s.Mode() != "async" || s.Provider() != "fake"):
			t.Errorf("%s: mode %q, provider %q; want async, fake", tc.name, s.Mode(), s.Provider())
		case !tc.ok && err == nil:
			t.Errorf("%s: New accepted the config", tc.name)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRequestNormalisesPhone(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		for _, raw := range []string{
			"09121234567",
			"9121234567",
			"+989121234567",
			"00989121234567",
			"+98 912 123 4567",
			"0912-123-4567",
			"۰۹۱۲۱۲۳۴۵۶۷", // Persian digits
			"٠٩١٢١٢٣٤٥٦٧", // Arabic-Indic digits
		} {
			c, err := r.svc.Request(context.Background(), raw, "")
			if err != nil {
				t.Errorf("Request(%q): %v", raw, err)
				continue
			}
			var got string
			st.DB().QueryRowContext(context.Background(), st.Rebind("SELECT phone FROM otp_challenges WHERE id = ?"), c.ID).Scan(&got)
			if got != "+989121234567" {
				t.Errorf("Request(%q) stored phone %q, want +989121234567", raw, got)
			}
		}
	})
}

func TestRequestInvalidPhone(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		for _, raw := range []string{"", "12345", "02112345678", "0912123456", "091212345678", "not a number", "+98912123456a"} {
			_, err := r.svc.Request(context.Background(), raw, "")
			var pe *phone.Error
			if !errors.As(err, &pe) || pe.Code != "invalid_phone" {
				t.Errorf("Request(%q) = %v, want a *phone.Error with code invalid_phone", raw, err)
			}
		}
		assertNothingWritten(t, r)
	})
}

func TestRequestForeignNumber(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		_, err := r.svc.Request(context.Background(), "+14155552671", "")
		var pe *phone.Error
		if !errors.As(err, &pe) || pe.Code != "phone_country_not_allowed" {
			t.Fatalf("Request(+1…) without 1 allowed = %v, want phone_country_not_allowed", err)
		}
		assertNothingWritten(t, r)

		r = newRig(t, st, options{countries: []string{"1", "44"}})
		c := r.request(t, "+1 415 555 2671")
		var got string
		st.DB().QueryRowContext(context.Background(), st.Rebind("SELECT phone FROM otp_challenges WHERE id = ?"), c.ID).Scan(&got)
		if got != "+14155552671" {
			t.Errorf("stored phone %q, want +14155552671", got)
		}
		if _, err := r.svc.Request(context.Background(), "+33612345678", ""); !errors.Is(err, phone.ErrCountryNotAllowed) {
			t.Errorf("Request(+33…) with 1 and 44 allowed = %v, want ErrCountryNotAllowed", err)
		}
	})
}

// assertNothingWritten checks that no challenge, event or job exists.
func assertNothingWritten(t *testing.T, r *rig) {
	t.Helper()
	if n := count(t, r.st, "SELECT count(*) FROM otp_challenges"); n != 0 {
		t.Errorf("%d challenges stored, want 0", n)
	}
	if n := count(t, r.st, "SELECT count(*) FROM outbox"); n != 0 {
		t.Errorf("%d outbox rows, want 0", n)
	}
	if n := len(r.jobs.all()); n != 0 {
		t.Errorf("%d jobs published, want 0", n)
	}
	if n := len(r.sms.messages()); n != 0 {
		t.Errorf("%d messages sent, want 0", n)
	}
}

// TestRequestSameForKnownAndUnknown: a request for a user's number and one
// for a number nobody has answer alike, write alike, and do not touch the
// users table (it is hidden while they run).
func TestRequestSameForKnownAndUnknown(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		addUser(t, st, phoneA, "user")
		before := count(t, st, "SELECT count(*) FROM users")
		ctx := context.Background()
		if _, err := st.DB().ExecContext(ctx, "ALTER TABLE users RENAME TO users_hidden"); err != nil {
			t.Fatal(err)
		}
		known, errK := r.svc.Request(ctx, phoneA, "")
		unknown, errU := r.svc.Request(ctx, phoneB, "")
		if _, err := st.DB().ExecContext(ctx, "ALTER TABLE users_hidden RENAME TO users"); err != nil {
			t.Fatal(err)
		}
		if errK != nil || errU != nil {
			t.Fatalf("known: %v; unknown: %v (with the users table hidden)", errK, errU)
		}
		if !hex32.MatchString(known.ID) || !hex32.MatchString(unknown.ID) || known.ExpiresIn != unknown.ExpiresIn || known.ExpiresIn != 5*time.Minute {
			t.Errorf("answers differ: known %+v, unknown %+v", known, unknown)
		}
		if after := count(t, st, "SELECT count(*) FROM users"); after != before || after != 1 {
			t.Errorf("users: %d before, %d after; want 1 and 1", before, after)
		}
		for _, c := range []struct {
			name, id, phone string
		}{{"known", known.ID, phoneA}, {"unknown", unknown.ID, phoneB}} {
			if n := count(t, st, "SELECT count(*) FROM otp_challenges WHERE id = ? AND phone = ?", c.id, c.phone); n != 1 {
				t.Errorf("%s: %d challenge rows, want 1", c.name, n)
			}
		}
		if n := count(t, st, "SELECT count(*) FROM outbox WHERE type = 'OTPRequested'"); n != 2 {
			t.Errorf("%d events, want 2", n)
		}
		jobs := r.jobs.all()
		if len(jobs) != 2 {
			t.Fatalf("%d jobs, want 2", len(jobs))
		}
		if k, u := jsonKeys(t, jobs[0].data), jsonKeys(t, jobs[1].data); !slices.Equal(k, u) {
			t.Errorf("job data keys differ: %v and %v", k, u)
		}
	})
}

func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestRegister(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{})
	reg := queues.NewRegistry()
	r.svc.Register(reg)
	if got := reg.JobNames("notifications"); !slices.Equal(got, []string{"send-otp"}) {
		t.Errorf("notifications handles %v, want [send-otp]", got)
	}
	if got := otp.JobID("0123456789abcdef0123456789abcdef"); got != "otp-0123456789abcdef0123456789abcdef" {
		t.Errorf("JobID = %q", got)
	}
}
