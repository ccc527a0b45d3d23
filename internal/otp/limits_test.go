package otp_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/ratelimit"
	"github.com/sevra/atlas/internal/store"
)

// rules parses a rule list or fails the test.
func rules(t testing.TB, name, s string) []ratelimit.Rule {
	t.Helper()
	rs, err := otp.ParseRules(name, s)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// wantLimited checks that err is a *otp.LimitedError of rule with a wait
// in (0, max].
func wantLimited(t *testing.T, err error, rule string, max time.Duration) {
	t.Helper()
	var le *otp.LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want *otp.LimitedError of %s", err, rule)
	}
	if le.Rule != rule || le.RetryAfter <= 0 || le.RetryAfter > max {
		t.Errorf("refused by %s, retry after %s; want %s and a wait in (0, %s]", le.Rule, le.RetryAfter, rule, max)
	}
	if !errors.Is(err, otp.ErrRateLimited) {
		t.Error("errors.Is(err, ErrRateLimited) = false")
	}
}

func TestLimitPerPhone(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{limiter: true, limits: otp.Limits{Phone: rules(t, "phone", "1/1m")}})
		ctx := context.Background()
		if _, err := r.svc.Request(ctx, phoneA, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(30 * time.Second)
		// The same number in another form, from another address.
		_, err := r.svc.Request(ctx, "09121234567", "10.0.0.2")
		wantLimited(t, err, "phone-1", 30*time.Second)
		if n := count(t, st, "SELECT count(*) FROM otp_challenges"); n != 1 {
			t.Errorf("%d challenges after a refused request, want 1", n)
		}
		if n := count(t, st, "SELECT count(*) FROM outbox"); n != 1 {
			t.Errorf("%d events after a refused request, want 1", n)
		}
		if n := len(r.jobs.all()); n != 1 {
			t.Errorf("%d jobs after a refused request, want 1", n)
		}
		if v := metric(t, r.reg, "atlas_otp_rate_limited_total", "rule", "phone"); v != 1 {
			t.Errorf("rate_limited{rule=phone} = %v, want 1", v)
		}
		if v := metric(t, r.reg, "atlas_otp_requests_total", "result", "limited"); v != 1 {
			t.Errorf("requests{result=limited} = %v, want 1", v)
		}
		// Another number is not limited by phoneA's budget.
		if _, err := r.svc.Request(ctx, phoneB, "10.0.0.1"); err != nil {
			t.Errorf("another number: %v", err)
		}
		r.clock.Advance(30 * time.Second)
		if _, err := r.svc.Request(ctx, phoneA, "10.0.0.1"); err != nil {
			t.Errorf("a minute later: %v", err)
		}
		if n := count(t, st, "SELECT count(*) FROM otp_challenges WHERE phone = ?", phoneA); n != 2 {
			t.Errorf("%d challenges for %s, want 2", n, phoneA)
		}
	})
}

func TestLimitDefaultPhoneRules(t *testing.T) {
	t.Parallel()
	// No Limits configured: 1/1m, 5/1h, 10/24h per number.
	r := newRig(t, openSQLite(t), options{limiter: true})
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		if _, err := r.svc.Request(ctx, phoneA, ""); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if i == 1 {
			_, err := r.svc.Request(ctx, phoneA, "")
			wantLimited(t, err, "phone-1", time.Minute)
		}
		r.clock.Advance(time.Minute)
	}
	// Five in the last five minutes: the hour's budget is spent.
	_, err := r.svc.Request(ctx, phoneA, "")
	wantLimited(t, err, "phone-2", time.Hour)
}

// TestLimitsOff: a Limits with a list set, even an empty one ("off"), is
// not replaced by the defaults; the lists left nil limit nothing.
func TestLimitsOff(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{limiter: true, limits: noLimits()})
	for i := 0; i < 25; i++ {
		if _, err := r.svc.Request(context.Background(), phoneA, "10.0.0.1"); err != nil {
			t.Fatalf("request %d with every limit off: %v", i+1, err)
		}
	}
}

func TestLimitPerIP(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{limiter: true, limits: otp.Limits{IP: rules(t, "ip", "2/1h")}})
		ctx := context.Background()
		for _, p := range []string{phoneA, phoneB} {
			if _, err := r.svc.Request(ctx, p, "10.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}
		_, err := r.svc.Request(ctx, phoneC, "10.0.0.1")
		wantLimited(t, err, "ip-1", time.Hour)
		if n := count(t, st, "SELECT count(*) FROM otp_challenges WHERE phone = ?", phoneC); n != 0 {
			t.Error("a refused request stored a challenge")
		}
		if n := count(t, st, "SELECT count(*) FROM outbox"); n != 2 {
			t.Errorf("%d events, want 2", n)
		}
		if _, err := r.svc.Request(ctx, phoneC, "10.0.0.2"); err != nil {
			t.Errorf("another address: %v", err)
		}
		r.clock.Advance(time.Hour)
		if _, err := r.svc.Request(ctx, phoneD, "10.0.0.1"); err != nil {
			t.Errorf("an hour later: %v", err)
		}
	})
}

func TestLimitPerCountry(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{limiter: true, countries: []string{"44"},
			limits: otp.Limits{Home: rules(t, "home", "2/1h"), Country: rules(t, "country", "1/1h")}})
		ctx := context.Background()
		// Two different numbers from two addresses share Iran's budget.
		if _, err := r.svc.Request(ctx, phoneA, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Request(ctx, phoneB, "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
		_, err := r.svc.Request(ctx, phoneC, "10.0.0.3")
		wantLimited(t, err, "home-1", time.Hour)
		if n := count(t, st, "SELECT count(*) FROM otp_challenges"); n != 2 {
			t.Errorf("%d challenges, want 2", n)
		}
		if n := count(t, st, "SELECT count(*) FROM outbox"); n != 2 {
			t.Errorf("%d events, want 2", n)
		}
		// The United Kingdom has a budget of its own.
		if _, err := r.svc.Request(ctx, "+447700900123", "10.0.0.4"); err != nil {
			t.Errorf("+44 number: %v", err)
		}
		_, err = r.svc.Request(ctx, "+447700900124", "10.0.0.5")
		wantLimited(t, err, "country-1", time.Hour)
		r.clock.Advance(time.Hour)
		if _, err := r.svc.Request(ctx, phoneC, "10.0.0.3"); err != nil {
			t.Errorf("an hour later: %v", err)
		}
	})
}

func TestLimitVerifyPerIP(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{limiter: true, limits: otp.Limits{VerifyIP: rules(t, "verify-ip", "3/1m")}})
		c, code := r.code(t, phoneA)
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			if _, err := r.svc.Verify(ctx, c.ID, wrongCode(code), "10.0.0.9"); !errors.Is(err, otp.ErrInvalidCode) {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		_, err := r.svc.Verify(ctx, c.ID, code, "10.0.0.9")
		wantLimited(t, err, "verify-ip-1", time.Minute)
		if n := attempts(t, st, c.ID); n != 3 {
			t.Errorf("attempts = %d; a refused verify must not count", n)
		}
		// Malformed input from the address counts too (the limit comes
		// first) and is refused the same way.
		_, err = r.svc.Verify(ctx, "nope", "x", "10.0.0.9")
		wantLimited(t, err, "verify-ip-1", time.Minute)
		if v := metric(t, r.reg, "atlas_otp_rate_limited_total", "rule", "verify-ip"); v != 2 {
			t.Errorf("rate_limited{rule=verify-ip} = %v, want 2", v)
		}
		r.clock.Advance(time.Minute)
		if _, err := r.svc.Verify(ctx, c.ID, code, "10.0.0.9"); err != nil {
			t.Errorf("a minute later: %v", err)
		}
	})
}

func TestLimitVerifyOtherAddress(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{limiter: true, limits: otp.Limits{VerifyIP: rules(t, "verify-ip", "1/1m")}})
	c, code := r.code(t, phoneA)
	ctx := context.Background()
	if _, err := r.svc.Verify(ctx, c.ID, wrongCode(code), "10.0.0.9"); !errors.Is(err, otp.ErrInvalidCode) {
		t.Fatal(err)
	}
	if _, err := r.svc.Verify(ctx, c.ID, code, "10.0.0.8"); err != nil {
		t.Errorf("another address: %v", err)
	}
}

// failingLimiter always errors.
type failingLimiter struct{}

func (failingLimiter) AllowAll(context.Context, ...ratelimit.Check) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, errors.New("limiter down")
}

func TestLimiterFailureAllows(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	r := newRig(t, st, options{})
	reg := prometheus.NewRegistry()
	svc, err := otp.New(otp.Config{Store: st, Outbox: r.outbox, Sessions: r.sessions, Provider: r.sms, Secret: secret,
		Limiter: failingLimiter{}, Registry: reg, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := svc.Request(context.Background(), phoneA, "10.0.0.1"); err != nil {
			t.Fatalf("request %d with the limiter down: %v", i+1, err)
		}
	}
	if n := count(t, st, "SELECT count(*) FROM otp_challenges"); n != 3 {
		t.Errorf("%d challenges, want 3", n)
	}
	if v := metric(t, reg, "atlas_otp_rate_limiter_errors_total", "", ""); v != 3 {
		t.Errorf("limiter errors = %v, want 3 (one combined check per request)", v)
	}
}

func TestParseRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []ratelimit.Rule // nil: an error
	}{
		{"1/1m", []ratelimit.Rule{{Name: "x-1", Limit: 1, Window: time.Minute}}},
		{"1/1m,5/1h,10/24h", []ratelimit.Rule{{Name: "x-1", Limit: 1, Window: time.Minute},
			{Name: "x-2", Limit: 5, Window: time.Hour}, {Name: "x-3", Limit: 10, Window: 24 * time.Hour}}},
		{" 3 / 30s , 7/2h ", []ratelimit.Rule{{Name: "x-1", Limit: 3, Window: 30 * time.Second},
			{Name: "x-2", Limit: 7, Window: 2 * time.Hour}}},
		{"1000000/1s", []ratelimit.Rule{{Name: "x-1", Limit: 1_000_000, Window: time.Second}}},
		{"1/744h", []ratelimit.Rule{{Name: "x-1", Limit: 1, Window: 744 * time.Hour}}},
		{"off", []ratelimit.Rule{}},
		{"", []ratelimit.Rule{}},
		{"  ", []ratelimit.Rule{}},
		{"0/1m", nil},
		{"-1/1m", nil},
		{"1000001/1m", nil},
		{"1/0s", nil},
		{"1/999ms", nil},
		{"1/745h", nil},
		{"1/-1m", nil},
		{"1m", nil},
		{"1/", nil},
		{"/1m", nil},
		{"a/1m", nil},
		{"1/1 m", nil},
		{"1/1m,", nil},
		{",1/1m", nil},
		{"1/1m;5/1h", nil},
		{"OFF", nil},
		{"1.5/1m", nil},
	} {
		got, err := otp.ParseRules("x", tc.in)
		switch {
		case tc.want == nil:
			if err == nil || !errors.Is(err, otp.ErrBadRules) {
				t.Errorf("ParseRules(%q) = %v, %v; want an error wrapping ErrBadRules", tc.in, got, err)
			}
		case err != nil:
			t.Errorf("ParseRules(%q): %v", tc.in, err)
		case got == nil || !slices.Equal(got, tc.want):
			t.Errorf("ParseRules(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	d := otp.DefaultLimits()
	for _, tc := range []struct {
		name string
		got  []ratelimit.Rule
		want []ratelimit.Rule
	}{
		{"phone", d.Phone, []ratelimit.Rule{{Name: "phone-1", Limit: 1, Window: time.Minute},
			{Name: "phone-2", Limit: 5, Window: time.Hour}, {Name: "phone-3", Limit: 10, Window: 24 * time.Hour}}},
		{"ip", d.IP, []ratelimit.Rule{{Name: "ip-1", Limit: 20, Window: time.Hour}}},
		{"home", d.Home, []ratelimit.Rule{{Name: "home-1", Limit: 20000, Window: time.Hour}}},
		{"country", d.Country, []ratelimit.Rule{{Name: "country-1", Limit: 200, Window: time.Hour}}},
		{"verify-ip", d.VerifyIP, []ratelimit.Rule{{Name: "verify-ip-1", Limit: 30, Window: time.Minute}}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("default %s rules = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// TestLimitRefusalUsesNoOtherBudget: a request the number's limit refuses
// does not count against the address's limit, so other numbers from the
// same address still get their codes.
func TestLimitRefusalUsesNoOtherBudget(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{limiter: true,
		limits: otp.Limits{IP: rules(t, "ip", "3/1h"), Phone: rules(t, "phone", "1/1m")}})
	ctx := context.Background()
	if _, err := r.svc.Request(ctx, phoneA, "10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := r.svc.Request(ctx, phoneA, "10.0.0.9")
		wantLimited(t, err, "phone-1", time.Minute)
	}
	for _, p := range []string{phoneB, phoneC} {
		if _, err := r.svc.Request(ctx, p, "10.0.0.9"); err != nil {
			t.Fatalf("%s from the same address: %v (refused requests used up its budget)", p, err)
		}
	}
	_, err := r.svc.Request(ctx, "09121110000", "10.0.0.9")
	wantLimited(t, err, "ip-1", time.Hour)
}
