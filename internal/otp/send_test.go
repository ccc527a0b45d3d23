package otp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/sms"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/jobq"
)

func TestSendSuccessRecordsReceipt(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c := r.request(t, "09121234567")
		r.clock.Advance(7 * time.Second)
		res, err := r.send(t, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := result(t, res); got != "sent" {
			t.Errorf("result %q, want sent", got)
		}
		ms := r.sms.messages()
		if len(ms) != 1 {
			t.Fatalf("%d messages, want 1", len(ms))
		}
		m := ms[0]
		if m.To != phoneA || m.Ref != c.ID || len(m.Code) != 6 || strings.Trim(m.Code, "0123456789") != "" {
			t.Errorf("message = to %s, ref %s, code %q; want %s, %s, 6 digits", m.To, m.Ref, m.Code, phoneA, c.ID)
		}
		if !strings.Contains(m.Text, m.Code) || !strings.Contains(m.Text, "5 minutes") {
			t.Errorf("text %q lacks the code or the lifetime", m.Text)
		}
		d := readDelivery(t, st, c.ID)
		if !d.sentAt.Valid || !d.sentAt.Time.Equal(t0.Add(7*time.Second)) || d.provider.String != "fake" ||
			d.messageID.String != "msg-1" || d.lastErr.Valid {
			t.Errorf("delivery = %+v; want sent at %s by fake as msg-1, no error", d, t0.Add(7*time.Second))
		}
		if v := metric(t, r.reg, "atlas_otp_sends_total", "result", "sent"); v != 1 {
			t.Errorf("sends{result=sent} = %v, want 1", v)
		}
	})
}

func TestSendAfterSuccessNotAgain(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c := r.request(t, phoneA)
		if _, err := r.send(t, c.ID); err != nil {
			t.Fatal(err)
		}
		// The worker runs the job again (a stalled job, a republish).
		res, err := r.svc.HandleSend(context.Background(), r.job(t, c.ID, 1))
		if err != nil || result(t, res) != "already sent" {
			t.Fatalf("second run = %v, %v; want already sent", res, err)
		}
		if n := len(r.sms.messages()); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})
}

func TestSendRetryable(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c := r.request(t, phoneA)
		r.sms.failNext(smsErr(sms.Retryable))
		_, err := r.send(t, c.ID)
		if err == nil || isUnrecoverable(err) || !errors.Is(err, sms.ErrRetryable) {
			t.Fatalf("retryable failure: %v (unrecoverable %v), want a retryable error", err, isUnrecoverable(err))
		}
		d := readDelivery(t, st, c.ID)
		if d.sentAt.Valid || !strings.Contains(d.lastErr.String, "retryable") || strings.HasPrefix(d.lastErr.String, "ambiguous") {
			t.Errorf("delivery after a retryable failure = %+v", d)
		}
		// The retry sends the same code.
		res, err := r.svc.HandleSend(context.Background(), r.job(t, c.ID, 1))
		if err != nil || result(t, res) != "sent" {
			t.Fatalf("retry = %v, %v", res, err)
		}
		ms := r.sms.messages()
		if len(ms) != 2 || ms[0].Code != ms[1].Code || ms[0].Code == "" {
			t.Fatalf("messages %+v: want two with the same code", ms)
		}
		if d := readDelivery(t, st, c.ID); !d.sentAt.Valid || d.lastErr.Valid || d.messageID.String != "msg-2" {
			t.Errorf("delivery after the retry = %+v", d)
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, ms[1].Code, ""); err != nil {
			t.Errorf("verify the resent code: %v", err)
		}
		if v := metric(t, r.reg, "atlas_otp_sends_total", "result", "retryable"); v != 1 {
			t.Errorf("sends{result=retryable} = %v, want 1", v)
		}
	})
}

// TestSendUnclassifiedError: an error that is not an *sms.Error is retried.
func TestSendUnclassifiedError(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{})
	c := r.request(t, phoneA)
	r.sms.failNext(errors.New("boom"))
	if _, err := r.send(t, c.ID); err == nil || isUnrecoverable(err) {
		t.Fatalf("unclassified failure: %v, want a retryable error", err)
	}
}

func TestSendPermanent(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c := r.request(t, phoneA)
		r.sms.failNext(smsErr(sms.Permanent))
		_, err := r.send(t, c.ID)
		if !isUnrecoverable(err) || !errors.Is(err, sms.ErrPermanent) {
			t.Fatalf("permanent failure: %v, want jobq.Unrecoverable wrapping it", err)
		}
		d := readDelivery(t, st, c.ID)
		if d.sentAt.Valid || !strings.Contains(d.lastErr.String, "permanent") {
			t.Errorf("delivery = %+v", d)
		}
		if n := len(r.sms.messages()); n != 1 {
			t.Errorf("%d send calls, want 1", n)
		}
	})
}

func TestSendAmbiguousWithoutReconciler(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c := r.request(t, phoneA)
		r.sms.failNext(smsErr(sms.Ambiguous))
		_, err := r.send(t, c.ID)
		if !isUnrecoverable(err) || !errors.Is(err, sms.ErrAmbiguous) || !strings.Contains(err.Error(), "not resent") {
			t.Fatalf("ambiguous failure without a reconciler: %v, want unrecoverable \"not resent\"", err)
		}
		d := readDelivery(t, st, c.ID)
		if d.sentAt.Valid || !strings.HasPrefix(d.lastErr.String, "ambiguous: ") {
			t.Errorf("delivery = %+v, want last_error starting with \"ambiguous: \"", d)
		}
		if n := len(r.sms.messages()); n != 1 {
			t.Errorf("%d send calls, want 1", n)
		}
	})
}

func TestSendAmbiguousReconciledSent(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		rec := reconcilingSMS{&fakeSMS{}}
		r := newRig(t, st, options{provider: rec})
		c := r.request(t, phoneA)
		rec.failNext(smsErr(sms.Ambiguous))
		_, err := r.send(t, c.ID)
		if err == nil || isUnrecoverable(err) || !errors.Is(err, sms.ErrAmbiguous) {
			t.Fatalf("ambiguous failure with a reconciler: %v, want a retryable error", err)
		}
		if n := len(rec.lookupCalls()); n != 0 {
			t.Errorf("%d lookups on the first attempt, want 0", n)
		}
		first := rec.messages()[0]
		rec.answerLookup(true, nil)
		r.clock.Advance(10 * time.Second)
		res, err := r.svc.HandleSend(context.Background(), r.job(t, c.ID, 1))
		if err != nil || result(t, res) != "sent (reconciled)" {
			t.Fatalf("second attempt = %v, %v; want sent (reconciled)", res, err)
		}
		ls := rec.lookupCalls()
		if len(ls) != 1 || ls[0].Ref != c.ID || ls[0].To != phoneA || ls[0].Code != first.Code {
			t.Fatalf("lookups %+v, want one for %s with the sent code", ls, c.ID)
		}
		if n := len(rec.messages()); n != 1 {
			t.Errorf("%d send calls, want 1 (no resend after the lookup found it)", n)
		}
		d := readDelivery(t, st, c.ID)
		if !d.sentAt.Valid || !d.sentAt.Time.Equal(t0.Add(10*time.Second)) || d.provider.String != "fake" || d.lastErr.Valid {
			t.Errorf("delivery = %+v", d)
		}
		if v := metric(t, r.reg, "atlas_otp_sends_total", "result", "reconciled"); v != 1 {
			t.Errorf("sends{result=reconciled} = %v, want 1", v)
		}
		// A third run does neither.
		res, err = r.svc.HandleSend(context.Background(), r.job(t, c.ID, 2))
		if err != nil || result(t, res) != "already sent" || len(rec.lookupCalls()) != 1 || len(rec.messages()) != 1 {
			t.Errorf("third run = %v, %v with %d lookups, %d sends", res, err, len(rec.lookupCalls()), len(rec.messages()))
		}
	})
}

func TestSendAmbiguousReconciledNotSent(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		rec := reconcilingSMS{&fakeSMS{}}
		r := newRig(t, st, options{provider: rec})
		c := r.request(t, phoneA)
		rec.failNext(smsErr(sms.Ambiguous))
		if _, err := r.send(t, c.ID); err == nil || isUnrecoverable(err) {
			t.Fatalf("first attempt: %v, want a retryable error", err)
		}
		rec.answerLookup(false, nil)
		res, err := r.svc.HandleSend(context.Background(), r.job(t, c.ID, 1))
		if err != nil || result(t, res) != "sent" {
			t.Fatalf("second attempt = %v, %v; want sent", res, err)
		}
		if n := len(rec.lookupCalls()); n != 1 {
			t.Errorf("%d lookups, want 1", n)
		}
		ms := rec.messages()
		if len(ms) != 2 || ms[0].Code != ms[1].Code || ms[0].Code == "" || ms[1].Ref != c.ID {
			t.Fatalf("messages %+v, want two with the same code", ms)
		}
		if d := readDelivery(t, st, c.ID); !d.sentAt.Valid || d.messageID.String != "msg-2" || d.lastErr.Valid {
			t.Errorf("delivery = %+v", d)
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, ms[1].Code, ""); err != nil {
			t.Errorf("verify: %v", err)
		}
	})
}

func TestSendAmbiguousLookupFails(t *testing.T) {
	t.Parallel()
	rec := reconcilingSMS{&fakeSMS{}}
	r := newRig(t, openSQLite(t), options{provider: rec})
	c := r.request(t, phoneA)
	rec.failNext(smsErr(sms.Ambiguous))
	if _, err := r.send(t, c.ID); err == nil {
		t.Fatal("first attempt succeeded")
	}
	rec.answerLookup(false, errors.New("status API down"))
	_, err := r.svc.HandleSend(context.Background(), r.job(t, c.ID, 1))
	if err == nil || isUnrecoverable(err) {
		t.Fatalf("lookup failure: %v, want a retryable error", err)
	}
	if n := len(rec.messages()); n != 1 {
		t.Errorf("%d sends, want 1: an unknown outcome must not resend", n)
	}
	// The next attempt asks again.
	rec.answerLookup(true, nil)
	res, err := r.svc.HandleSend(context.Background(), r.job(t, c.ID, 2))
	if err != nil || result(t, res) != "sent (reconciled)" || len(rec.lookupCalls()) != 2 {
		t.Errorf("third attempt = %v, %v after %d lookups", res, err, len(rec.lookupCalls()))
	}
}

func TestSendSkipsExpired(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c := r.request(t, phoneA)
		r.clock.Advance(5 * time.Minute)
		res, err := r.send(t, c.ID)
		if err != nil || result(t, res) != "skipped: challenge expired" {
			t.Fatalf("expired = %v, %v", res, err)
		}
		if n := len(r.sms.messages()); n != 0 {
			t.Errorf("%d messages for an expired challenge", n)
		}
		if d := readDelivery(t, st, c.ID); d.sentAt.Valid {
			t.Error("expired challenge marked sent")
		}
	})
}

func TestSendSkipsConsumed(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		rec := reconcilingSMS{&fakeSMS{}}
		r := newRig(t, st, options{provider: rec})
		c := r.request(t, phoneA)
		// An ambiguous send that did reach the phone; the user logs in
		// with it before the retry.
		rec.failNext(smsErr(sms.Ambiguous))
		if _, err := r.send(t, c.ID); err == nil || isUnrecoverable(err) {
			t.Fatalf("first attempt: %v, want a retryable error", err)
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, rec.last(t, c.ID).Code, ""); err != nil {
			t.Fatal(err)
		}
		res, err := r.svc.HandleSend(context.Background(), r.job(t, c.ID, 1))
		if err != nil || result(t, res) != "skipped: challenge already used" {
			t.Fatalf("consumed = %v, %v", res, err)
		}
		if n, l := len(rec.messages()), len(rec.lookupCalls()); n != 1 || l != 0 {
			t.Errorf("%d send calls and %d lookups, want 1 and 0", n, l)
		}
	})
}

func TestSendBadJobs(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{})
	for _, data := range []string{
		`{}`,
		`not json`,
		`{"challengeId":"xyz"}`,
		`{"challengeId":"0123456789ABCDEF0123456789ABCDEF"}`,
		`{"challengeId":"0123456789abcdef0123456789abcdef"}`, // well formed, unknown
	} {
		_, err := r.svc.HandleSend(context.Background(), &jobq.Job{ID: "j", Name: "send-otp", Data: []byte(data)})
		if !isUnrecoverable(err) {
			t.Errorf("job data %s: %v, want an unrecoverable error", data, err)
		}
	}
	if n := len(r.sms.messages()); n != 0 {
		t.Errorf("%d messages", n)
	}
}
