package otp_test

import (
	"context"
	"testing"

	"github.com/sevra/atlas/internal/otp"
)

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{})
	ctx := context.Background()
	c, code := r.code(t, phoneA)
	r.svc.Request(ctx, "12345", "")
	r.svc.Verify(ctx, c.ID, wrongCode(code), "")
	r.svc.Verify(ctx, "bad", code, "")
	if _, err := r.svc.Verify(ctx, c.ID, code, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, label, value string
		want               float64
	}{
		{"atlas_otp_requests_total", "result", "accepted", 1},
		{"atlas_otp_requests_total", "result", "invalid", 1},
		{"atlas_otp_sends_total", "result", "sent", 1},
		{"atlas_otp_verifications_total", "result", "wrong", 1},
		{"atlas_otp_verifications_total", "result", "invalid", 1},
		{"atlas_otp_verifications_total", "result", "ok", 1},
	} {
		if got := metric(t, r.reg, tc.name, tc.label, tc.value); got != tc.want {
			t.Errorf("%s{%s=%q} = %v, want %v", tc.name, tc.label, tc.value, got, tc.want)
		}
	}
}

// TestMetricsSharedRegistry: a second service on the same registry (New
// tolerates the duplicate registration) still has its events counted.
func TestMetricsSharedRegistry(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	r := newRig(t, st, options{})
	second, err := otp.New(otp.Config{Store: st, Outbox: r.outbox, Sessions: r.sessions, Provider: r.sms,
		Secret: secret, Registry: r.reg, Now: r.clock.Now})
	if err != nil {
		t.Fatalf("a second service on the same registry: %v", err)
	}
	r.request(t, phoneA)
	if _, err := second.Request(context.Background(), phoneB, ""); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, r.reg, "atlas_otp_requests_total", "result", "accepted"); got != 2 {
		t.Errorf("requests{accepted} = %v after one request on each service, want 2", got)
	}
}
