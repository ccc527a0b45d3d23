package otp_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/otp"
	"github.com/sevra/atlas/internal/store"
)

// TestCodeStoredOnlyHashed: the row holds neither the code nor anything
// that contains it; code_hash is the documented HMAC and code_box opens,
// with the challenge id as associated data, to the code the provider got.
func TestCodeStoredOnlyHashed(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		var hash, box []byte
		if err := st.DB().QueryRowContext(context.Background(), st.Rebind("SELECT code_hash, code_box FROM otp_challenges WHERE id = ?"),
			c.ID).Scan(&hash, &box); err != nil {
			t.Fatal(err)
		}
		if len(hash) != 32 || bytes.Equal(hash, []byte(code)) || bytes.Contains(hash, []byte(code)) {
			t.Errorf("code_hash %x (%d bytes) is, or contains, the code %s", hash, len(hash), code)
		}
		if len(box) != 12+6+16 || bytes.Contains(box, []byte(code)) {
			t.Errorf("code_box %x (%d bytes): want 34 bytes (nonce, sealed code, tag) without the code %s", box, len(box), code)
		}
		derive := func(label string) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte("atlas otp " + label))
			return m.Sum(nil)
		}
		m := hmac.New(sha256.New, derive("mac"))
		m.Write([]byte(c.ID + ":" + code))
		if want := m.Sum(nil); !bytes.Equal(hash, want) {
			t.Errorf("code_hash = %x, want HMAC-SHA256 of %q = %x", hash, c.ID+":"+code, want)
		}
		block, _ := aes.NewCipher(derive("seal"))
		aead, _ := cipher.NewGCM(block)
		plain, err := aead.Open(nil, box[:12], box[12:], []byte(c.ID))
		if err != nil || string(plain) != code {
			t.Errorf("code_box opens to %q, %v; want %s", plain, err, code)
		}
		if _, err := aead.Open(nil, box[:12], box[12:], []byte(strings.Repeat("0", 32))); err == nil {
			t.Error("code_box opens under another challenge id")
		}
	})
}

func TestCodesDiffer(t *testing.T) {
	t.Parallel()
	r := newRig(t, openSQLite(t), options{})
	seen := map[string]bool{}
	for range 20 {
		c := r.request(t, phoneA)
		if _, err := r.send(t, c.ID); err != nil {
			t.Fatal(err)
		}
		seen[r.sms.last(t, c.ID).Code] = true
	}
	// 20 draws from a million codes: a repeat is a 1-in-5000 event, more
	// than two distinct values is certain unless the codes are not random.
	if len(seen) < 15 {
		t.Errorf("20 requests gave only %d distinct codes", len(seen))
	}
}

func TestVerifyRightCode(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		l, err := r.svc.Verify(context.Background(), c.ID, code, "")
		if err != nil {
			t.Fatalf("Verify with the code the provider got: %v", err)
		}
		if l.UserID == 0 || !strings.HasPrefix(l.Token, "ats_") {
			t.Errorf("login = %+v", l)
		}
		var consumed time.Time
		st.DB().QueryRowContext(context.Background(), st.Rebind("SELECT consumed_at FROM otp_challenges WHERE id = ?"), c.ID).Scan(&consumed)
		if !consumed.Equal(t0) {
			t.Errorf("consumed_at = %s, want %s", consumed, t0)
		}
		if n := attempts(t, st, c.ID); n != 1 {
			t.Errorf("attempts = %d, want 1", n)
		}
	})
}

// wrongCode returns a 6-digit code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestVerifyWrongCode(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		for i := 1; i <= 2; i++ {
			if _, err := r.svc.Verify(context.Background(), c.ID, wrongCode(code), ""); !errors.Is(err, otp.ErrInvalidCode) {
				t.Fatalf("wrong code, attempt %d: %v, want ErrInvalidCode", i, err)
			}
			if n := attempts(t, st, c.ID); n != i {
				t.Errorf("after %d wrong codes attempts = %d", i, n)
			}
		}
		if n := count(t, st, "SELECT count(*) FROM users"); n != 0 {
			t.Errorf("%d users after wrong codes", n)
		}
		if n := count(t, st, "SELECT count(*) FROM otp_challenges WHERE consumed_at IS NOT NULL"); n != 0 {
			t.Error("a wrong code consumed the challenge")
		}
		// The right code still works on the third attempt.
		if _, err := r.svc.Verify(context.Background(), c.ID, code, ""); err != nil {
			t.Fatalf("right code after 2 wrong ones: %v", err)
		}
	})
}

func TestVerifyFifthAttemptAllowed(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		for i := 0; i < 4; i++ {
			if _, err := r.svc.Verify(context.Background(), c.ID, wrongCode(code), ""); !errors.Is(err, otp.ErrInvalidCode) {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, code, ""); err != nil {
			t.Fatalf("right code on the 5th attempt: %v", err)
		}
	})
}

func TestVerifySixthAttemptRefused(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		for i := 0; i < 5; i++ {
			if _, err := r.svc.Verify(context.Background(), c.ID, wrongCode(code), ""); !errors.Is(err, otp.ErrInvalidCode) {
				t.Fatalf("wrong code %d: %v, want ErrInvalidCode", i+1, err)
			}
		}
		for i := 6; i <= 7; i++ {
			_, err := r.svc.Verify(context.Background(), c.ID, code, "")
			if !errors.Is(err, otp.ErrTooManyAttempts) {
				t.Fatalf("right code on attempt %d: %v, want ErrTooManyAttempts", i, err)
			}
			if n := attempts(t, st, c.ID); n != i {
				t.Errorf("attempts = %d after attempt %d", n, i)
			}
		}
		if n := count(t, st, "SELECT count(*) FROM users"); n != 0 {
			t.Errorf("%d users created by an exhausted challenge", n)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions"); n != 0 {
			t.Errorf("%d sessions created by an exhausted challenge", n)
		}
		if d := readDelivery(t, st, c.ID); d.consumedAt.Valid {
			t.Error("exhausted challenge marked consumed")
		}
	})
}

func TestVerifyExpired(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		late, lateCode := r.code(t, phoneA)
		onTime, onTimeCode := r.code(t, phoneB)
		r.clock.Advance(5*time.Minute - time.Second)
		if _, err := r.svc.Verify(context.Background(), onTime.ID, onTimeCode, ""); err != nil {
			t.Fatalf("verify 1s before expiry: %v", err)
		}
		r.clock.Advance(time.Second) // exactly the TTL: expired
		if _, err := r.svc.Verify(context.Background(), late.ID, lateCode, ""); !errors.Is(err, otp.ErrInvalidCode) {
			t.Fatalf("verify at expiry: %v, want ErrInvalidCode", err)
		}
		r.clock.Advance(time.Hour)
		if _, err := r.svc.Verify(context.Background(), late.ID, lateCode, ""); !errors.Is(err, otp.ErrInvalidCode) {
			t.Fatalf("verify an hour after expiry: %v, want ErrInvalidCode", err)
		}
		if d := readDelivery(t, st, late.ID); d.consumedAt.Valid {
			t.Error("expired challenge consumed")
		}
		if n := count(t, st, "SELECT count(*) FROM users WHERE phone = ?", phoneA); n != 0 {
			t.Error("expired challenge created a user")
		}
	})
}

func TestVerifySingleUse(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		if _, err := r.svc.Verify(context.Background(), c.ID, code, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, code, ""); !errors.Is(err, otp.ErrInvalidCode) {
			t.Fatalf("second verify: %v, want ErrInvalidCode", err)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions"); n != 1 {
			t.Errorf("%d sessions after two verifies, want 1", n)
		}
		if n := attempts(t, st, c.ID); n != 1 {
			t.Errorf("attempts = %d; a used challenge must not count more", n)
		}
	})
}

func TestVerifyMalformedInput(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		for _, tc := range []struct{ name, id, code string }{
			{"empty id", "", code},
			{"short id", c.ID[:31], code},
			{"long id", c.ID + "0", code},
			{"upper-case id", strings.ToUpper(c.ID), code},
			{"non-hex id", "g" + c.ID[1:], code},
			{"id with a quote", "'" + c.ID[1:], code},
			{"empty code", c.ID, ""},
			{"5 digits", c.ID, code[:5]},
			{"7 digits", c.ID, code + "0"},
			{"letter", c.ID, code[:5] + "x"},
			{"fullwidth digits", c.ID, "１２３４５６"},
			{"sign", c.ID, "+" + code[1:]},
		} {
			_, err := r.svc.Verify(context.Background(), tc.id, tc.code, "")
			if !errors.Is(err, otp.ErrInvalidCode) {
				t.Errorf("%s: %v, want ErrInvalidCode", tc.name, err)
			}
		}
		if n := attempts(t, st, c.ID); n != 0 {
			t.Errorf("malformed input counted %d attempts", n)
		}
		// A well-formed unknown id is refused alike and changes nothing.
		if _, err := r.svc.Verify(context.Background(), strings.Repeat("ab", 16), code, ""); !errors.Is(err, otp.ErrInvalidCode) {
			t.Errorf("unknown id: %v", err)
		}
		if n := count(t, st, "SELECT count(*) FROM otp_challenges WHERE attempts <> 0 OR consumed_at IS NOT NULL"); n != 0 {
			t.Errorf("%d challenges changed", n)
		}
		if _, err := r.svc.Verify(context.Background(), c.ID, code, ""); err != nil {
			t.Errorf("the right code after the malformed ones: %v", err)
		}
	})
}

// persian writes ASCII digits as Persian ones.
func persian(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '۰' + (r - '0')
		}
		return r
	}, s)
}

func TestVerifyPersianDigits(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		for _, tc := range []struct {
			name string
			form func(string) string
		}{
			{"persian", persian},
			{"arabic-indic", func(s string) string {
				return strings.Map(func(r rune) rune { return '٠' + (r - '0') }, s)
			}},
			{"persian with a space", func(s string) string { return persian(s[:3]) + " " + persian(s[3:]) }},
			{"mixed with a dash", func(s string) string { return s[:3] + "-" + persian(s[3:]) }},
		} {
			c, code := r.code(t, phoneA)
			r.clock.Advance(2 * time.Minute) // nothing limits; keeps rows apart
			typed := tc.form(code)
			if typed == code {
				t.Fatalf("%s: form left %q unchanged", tc.name, code)
			}
			if _, err := r.svc.Verify(context.Background(), c.ID, typed, ""); err != nil {
				t.Errorf("%s: Verify(%q) for code %s: %v", tc.name, typed, code, err)
			}
		}
	})
}

func TestVerifyCreatesUser(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		l, err := r.svc.Verify(context.Background(), c.ID, code, "")
		if err != nil {
			t.Fatal(err)
		}
		var (
			id   int64
			role string
		)
		if err := st.DB().QueryRowContext(context.Background(), st.Rebind("SELECT id, role FROM users WHERE phone = ?"), phoneA).Scan(&id, &role); err != nil {
			t.Fatalf("user of %s: %v", phoneA, err)
		}
		if l.UserID != id || role != "user" {
			t.Errorf("login user %d; stored user %d with role %q, want the same id and role user", l.UserID, id, role)
		}
		if !l.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("ExpiresAt = %s, want %s (the sessions' TTL)", l.ExpiresAt, t0.Add(time.Hour))
		}
		who, err := r.sessions.LookupSession(context.Background(), l.Token)
		if err != nil || who.UserID != id || who.Kind != auth.KindUser || who.Admin {
			t.Fatalf("LookupSession = %+v, %v; want user %d", who, err, id)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", id); n != 1 {
			t.Errorf("%d sessions, want 1", n)
		}
	})
}

func TestVerifyLoadsExistingUser(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		addUser(t, st, phoneB, "user")
		owner := addUser(t, st, phoneA, "owner")
		c, code := r.code(t, "0912 123 4567")
		l, err := r.svc.Verify(context.Background(), c.ID, code, "")
		if err != nil {
			t.Fatal(err)
		}
		if l.UserID != owner {
			t.Errorf("login user %d, want the existing user %d", l.UserID, owner)
		}
		if n := count(t, st, "SELECT count(*) FROM users"); n != 2 {
			t.Errorf("%d users, want the 2 that existed", n)
		}
		if n := count(t, st, "SELECT count(*) FROM users WHERE id = ? AND role = 'owner'", owner); n != 1 {
			t.Error("the existing user's role changed")
		}
		who, err := r.sessions.LookupSession(context.Background(), l.Token)
		if err != nil || who.UserID != owner {
			t.Fatalf("LookupSession = %+v, %v", who, err)
		}
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		l, err := r.svc.Verify(context.Background(), c.ID, code, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.sessions.LookupSession(context.Background(), l.Token); err != nil {
			t.Fatalf("before logout: %v", err)
		}
		if err := r.sessions.Revoke(context.Background(), l.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := r.sessions.LookupSession(context.Background(), l.Token); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("after logout: %v, want ErrUnauthenticated", err)
		}
		// A new login works again and gets a different token.
		c2, code2 := r.code(t, phoneA)
		l2, err := r.svc.Verify(context.Background(), c2.ID, code2, "")
		if err != nil || l2.Token == l.Token || l2.UserID != l.UserID {
			t.Fatalf("second login = %+v, %v", l2, err)
		}
		if _, err := r.sessions.LookupSession(context.Background(), l2.Token); err != nil {
			t.Fatalf("second session: %v", err)
		}
	})
}

// TestVerifyConcurrentSingleUse: of several concurrent verifies with the
// right code, exactly one logs in.
func TestVerifyConcurrentSingleUse(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, options{})
		c, code := r.code(t, phoneA)
		const n = otp.MaxAttempts
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := r.svc.Verify(context.Background(), c.ID, code, "")
				errs <- err
			}()
		}
		ok := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			case !errors.Is(err, otp.ErrInvalidCode):
				t.Errorf("concurrent verify: %v, want nil or ErrInvalidCode", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent verifies succeeded, want 1", ok, n)
		}
		if m := count(t, st, "SELECT count(*) FROM sessions"); m != 1 {
			t.Errorf("%d sessions, want 1", m)
		}
	})
}
