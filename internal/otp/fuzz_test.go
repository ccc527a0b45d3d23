package otp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/otp"
)

// FuzzVerifyInput: random challenge ids and codes never panic, never log
// in and never touch a real challenge, even with that challenge's code.
func FuzzVerifyInput(f *testing.F) {
	st := openSQLite(f)
	r := newRig(f, st, options{})
	c, code := r.code(f, phoneA)
	f.Add("", "")
	f.Add(strings.Repeat("0", 32), "000000")
	f.Add(strings.ToUpper(c.ID), code)
	f.Add(c.ID[:31], code)
	f.Add(c.ID+"0", code)
	f.Add("۰۱۲۳۴۵۶۷۸۹abcdef0123456789abcdef", "۱۲۳۴۵۶")
	f.Add("' OR 1=1 --", "1' OR '1'='1")
	f.Fuzz(func(t *testing.T, id, typed string) {
		if id == c.ID {
			t.Skip("the real challenge id")
		}
		ctx := context.Background()
		for _, try := range []string{typed, code} {
			l, err := r.svc.Verify(ctx, id, try, "")
			if !errors.Is(err, otp.ErrInvalidCode) {
				t.Fatalf("Verify(%q, %q) = %+v, %v; want ErrInvalidCode", id, try, l, err)
			}
		}
		if n := attempts(t, st, c.ID); n != 0 {
			t.Fatalf("Verify(%q, …) counted %d attempts on the real challenge", id, n)
		}
	})
}

func FuzzParseRules(f *testing.F) {
	for _, s := range []string{"1/1m,5/1h,10/24h", "off", "", "0/1m", "1/0s", "9999999/1h", "1/745h", " 2 / 30s ", "1/1m,", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := otp.ParseRules("x", s)
		if err != nil {
			if !errors.Is(err, otp.ErrBadRules) || rs != nil {
				t.Fatalf("ParseRules(%q) = %v, %v; want nil and ErrBadRules", s, rs, err)
			}
			return
		}
		if rs == nil {
			t.Fatalf("ParseRules(%q) = nil, nil; want a non-nil list", s)
		}
		for i, r := range rs {
			if r.Limit < 1 || r.Limit > 1_000_000 || r.Window < time.Second || r.Window > 744*time.Hour ||
				r.Name != fmt.Sprintf("x-%d", i+1) {
				t.Fatalf("ParseRules(%q)[%d] = %+v", s, i, r)
			}
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{`{"challengeId":"0123456789abcdef0123456789abcdef","eventId":"e","mode":"shadow"}`,
		`{}`, `null`, `[]`, `{"challengeId":1}`, `{"challengeId":"0123456789ABCDEF0123456789ABCDEF"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := otp.ParsePayload(data)
		if err != nil {
			return
		}
		if len(p.ChallengeID) != 32 || strings.Trim(p.ChallengeID, "0123456789abcdef") != "" {
			t.Fatalf("ParsePayload(%q) accepted challenge id %q", data, p.ChallengeID)
		}
	})
}
