package auth_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/auth"
	"github.com/sevra/atlas/internal/store"
	"github.com/sevra/atlas/internal/store/storetest"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	for _, d := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			st := d.open(t)
			testSessions(t, st)
		})
	}
}

func testSessions(t *testing.T, st *store.Store) {
	ctx := context.Background()
	var uid int64
	if err := st.DB().QueryRowContext(ctx, st.Rebind(`INSERT INTO users (phone, role, created_at) VALUES (?, 'user', ?) RETURNING id`),
		"+989121234567", time.Now().UTC()).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clock := now
	s := auth.NewSessions(st, time.Hour, func() time.Time { return clock })
	token, exp, err := s.Create(ctx, nil, uid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "ats_") || len(token) != 4+43 || !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("token %q (len %d), expiry %s", token, len(token), exp)
	}
	// Only the digest is stored.
	var n int
	digest := sha256.Sum256([]byte(token))
	st.DB().QueryRowContext(ctx, st.Rebind("SELECT count(*) FROM sessions WHERE token_hash = ?"), digest[:]).Scan(&n)
	if n != 1 {
		t.Fatalf("%d rows with the token's digest, want 1", n)
	}
	st.DB().QueryRowContext(ctx, st.Rebind("SELECT count(*) FROM sessions WHERE token_hash = ?"), []byte(token)).Scan(&n)
	if n != 0 {
		t.Fatal("the raw token is stored")
	}
	id, err := s.LookupSession(ctx, token)
	if err != nil || id.UserID != uid || id.Kind != auth.KindUser || id.Admin {
		t.Fatalf("lookup = %+v, %v", id, err)
	}
	for _, bad := range []string{"", "ats_", token + "x", strings.Replace(token, "ats_", "atx_", 1)} {
		if _, err := s.LookupSession(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("lookup(%q) = %v, want ErrUnauthenticated", bad, err)
		}
	}
	// Expiry.
	clock = now.Add(time.Hour)
	if _, err := s.LookupSession(ctx, token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("expired session: %v", err)
	}
	// Revocation, idempotent.
	clock = now
	token2, _, err := s.Create(ctx, nil, uid)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, token2); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, token2); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := s.LookupSession(ctx, token2); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("revoked session: %v", err)
	}
	if _, err := s.LookupSession(ctx, token); err != nil {
		t.Fatalf("revoking one session ended another: %v", err)
	}
}

// TestSessionsCookieStore: dashboard cookie sessions in the sessions
// table are live until revoked or expired, on both engines, and a cookie
// session id is not a Bearer token.
func TestSessionsCookieStore(t *testing.T) {
	t.Parallel()
	for _, d := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			st := d.open(t)
			ctx := context.Background()
			clock := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
			s := auth.NewSessions(st, time.Hour, func() time.Time { return clock })
			if err := s.AddCookie(ctx, "id-1", clock.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.AddCookie(ctx, "id-2", clock.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			live := func(id string) bool {
				ok, err := s.CookieLive(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if !live("id-1") || !live("id-2") || live("id-3") {
				t.Fatal("live: want id-1 and id-2, not id-3")
			}
			if err := s.RevokeCookie(ctx, "id-1"); err != nil {
				t.Fatal(err)
			}
			if live("id-1") || !live("id-2") {
				t.Fatal("after revoking id-1: want only id-2 live")
			}
			var revoked int
			if err := st.DB().QueryRow("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").Scan(&revoked); err != nil || revoked != 1 {
				t.Fatalf("revoked rows: %d %v, want 1", revoked, err)
			}
			if _, err := s.LookupSession(ctx, "id-2"); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("a cookie id as a Bearer token: %v", err)
			}
			clock = clock.Add(time.Hour)
			if live("id-2") {
				t.Error("id-2 outlived its expiry")
			}
		})
	}
}
