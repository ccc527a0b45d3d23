package otp_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/rollout"
	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/internal/store"
)

// TestProviderOwnedCodes: with an sms.Verifier no code is made or stored,
// Send gets none, and Verify asks the provider.
func TestProviderOwnedCodes(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		v := verifyingSMS{&fakeSMS{}}
		r := newRig(t, st, options{provider: v})
		c := r.request(t, phoneA)
		if n := count(t, st, "SELECT count(*) FROM otp_challenges WHERE id = ? AND code_hash IS NULL AND code_box IS NULL", c.ID); n != 1 {
			t.Fatal("a code is stored for a provider that owns the codes")
		}
		res, err := r.send(t, c.ID)
		if err != nil || result(t, res) != "sent" {
			t.Fatalf("send-otp = %v, %v", res, err)
		}
		ms := v.messages()
		if len(ms) != 1 || ms[0].Code != "" || ms[0].Text != "" || ms[0].To != phoneA || ms[0].Ref != c.ID {
			t.Fatalf("messages %+v: want one to %s without a code or text", ms, phoneA)
		}
		ctx := context.Background()
		if _, err := r.svc.Verify(ctx, c.ID, "1111", ""); !errors.Is(err, otp.ErrInvalidCode) {
			t.Errorf("wrong code: %v, want ErrInvalidCode", err)
		}
		// 3 and 11 digits are outside the providers' range: refused without
		// asking.
		for _, code := range []string{"123", "12345678901"} {
			if _, err := r.svc.Verify(ctx, c.ID, code, ""); !errors.Is(err, otp.ErrInvalidCode) {
				t.Errorf("code %s: %v, want ErrInvalidCode", code, err)
			}
		}
		l, err := r.svc.Verify(ctx, c.ID, persian(ownedCode), "")
		if err != nil {
			t.Fatalf("the provider's code: %v", err)
		}
		want := []sms.Message{{To: phoneA, Code: "1111"}, {To: phoneA, Code: ownedCode}}
		if got := v.checkCalls(); !slices.Equal(got, want) {
			t.Errorf("Check calls %+v, want %+v", got, want)
		}
		if who, err := r.sessions.LookupSession(ctx, l.Token); err != nil || who.UserID != l.UserID {
			t.Errorf("session: %+v, %v", who, err)
		}
		if n := attempts(t, st, c.ID); n != 2 {
			t.Errorf("attempts = %d, want 2", n)
		}
		// Single use holds for provider-owned codes too.
		if _, err := r.svc.Verify(ctx, c.ID, ownedCode, ""); !errors.Is(err, otp.ErrInvalidCode) {
			t.Errorf("second verify: %v, want ErrInvalidCode", err)
		}
		if n := len(v.checkCalls()); n != 2 {
			t.Errorf("%d Check calls, want 2", n)
		}
	})
}

func TestShadowMode(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		rec, err := rollout.NewRecorder(nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t, st, options{mode: rollout.Shadow, shadow: rec})
		c := r.request(t, phoneA)
		// The request sent the code itself.
		ms := r.sms.messages()
		if len(ms) != 1 || ms[0].Ref != c.ID || len(ms[0].Code) != 6 {
			t.Fatalf("messages after a shadow request: %+v, want one with a code", ms)
		}
		if d := readDelivery(t, st, c.ID); !d.sentAt.Valid || d.messageID.String != "msg-1" {
			t.Errorf("delivery = %+v, want sent as msg-1", d)
		}
		// The event is stored and published as a shadow job.
		if n := count(t, st, "SELECT count(*) FROM outbox WHERE mode = 'shadow'"); n != 1 {
			t.Errorf("%d shadow events, want 1", n)
		}
		res, err := r.send(t, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := res.(map[string]any)
		if !ok || m["result"] != "shadow" || m["match"] != true {
			t.Errorf("shadow job = %#v, want result shadow, match true", res)
		}
		if n := len(r.sms.messages()); n != 1 {
			t.Errorf("%d messages after the shadow job, want 1", n)
		}
		if got, want := rec.Counts(), []rollout.Counts{{Module: "sms", Match: 1}}; !slices.Equal(got, want) {
			t.Errorf("recorder counts %+v, want %+v", got, want)
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, ms[0].Code, ""); err != nil {
			t.Errorf("verify the inline code: %v", err)
		}
	})
}

func TestShadowProviderOwned(t *testing.T) {
	t.Parallel()
	rec, err := rollout.NewRecorder(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	v := verifyingSMS{&fakeSMS{}}
	r := newRig(t, openSQLite(t), options{provider: v, mode: rollout.Shadow, shadow: rec})
	c := r.request(t, phoneA)
	res, err := r.send(t, c.ID)
	if m, _ := res.(map[string]any); err != nil || m["match"] != true {
		t.Fatalf("shadow job = %#v, %v; want a match", res, err)
	}
	if n := len(v.messages()); n != 1 {
		t.Errorf("%d sends, want the inline one", n)
	}
	if got, want := rec.Counts(), []rollout.Counts{{Module: "sms", Match: 1}}; !slices.Equal(got, want) {
		t.Errorf("recorder counts %+v, want %+v", got, want)
	}
}

// TestShadowMismatch: a stored hash that does not match the sealed code
// is recorded as a mismatch, and still nothing is sent.
func TestShadowMismatch(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	rec, err := rollout.NewRecorder(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, st, options{mode: rollout.Shadow, shadow: rec})
	c := r.request(t, phoneA)
	if _, err := st.DB().ExecContext(context.Background(), "UPDATE otp_challenges SET code_hash = ? WHERE id = ?",
		make([]byte, 32), c.ID); err != nil {
		t.Fatal(err)
	}
	res, err := r.send(t, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := res.(map[string]any); m["match"] != false {
		t.Errorf("shadow job = %#v, want match false", res)
	}
	if got, want := rec.Counts(), []rollout.Counts{{Module: "sms", Mismatch: 1}}; !slices.Equal(got, want) {
		t.Errorf("recorder counts %+v, want %+v", got, want)
	}
	if n := len(r.sms.messages()); n != 1 {
		t.Errorf("%d messages, want the inline one", n)
	}
}

func TestShadowInlineFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{mode: rollout.Shadow})
	r.sms.failNext(smsErr(sms.Retryable))
	// The request answers even though its inline send failed.
	c, err := r.svc.Request(context.Background(), phoneA, "")
	if err != nil || !hex32.MatchString(c.ID) {
		t.Fatalf("Request = %+v, %v", c, err)
	}
	if d := readDelivery(t, r.st, c.ID); d.sentAt.Valid || !d.lastErr.Valid {
		t.Errorf("delivery = %+v, want unsent with an error", d)
	}
}

func TestSyncMode(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{mode: rollout.Sync})
		c := r.request(t, phoneA)
		ms := r.sms.messages()
		if len(ms) != 1 || ms[0].Ref != c.ID || ms[0].To != phoneA || len(ms[0].Code) != 6 {
			t.Fatalf("messages after a sync request: %+v, want one", ms)
		}
		if d := readDelivery(t, st, c.ID); !d.sentAt.Valid || !d.sentAt.Time.Equal(t0) {
			t.Errorf("delivery = %+v, want sent at %s", d, t0)
		}
		evs := r.outbox.added()
		if len(evs) != 1 || evs[0].Mode != rollout.Sync || evs[0].Type != "OTPRequested" {
			t.Errorf("events given to the outbox: %+v, want one OTPRequested in sync mode", evs)
		}
		if n := count(t, st, "SELECT count(*) FROM outbox"); n != 0 {
			t.Errorf("%d outbox rows in sync mode, want 0", n)
		}
		if n := len(r.jobs.all()); n != 0 {
			t.Errorf("%d jobs in sync mode, want 0", n)
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, ms[0].Code, ""); err != nil {
			t.Errorf("verify: %v", err)
		}
	})
}
