package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryCookies is a CookieStore in one process's memory: sessions end
// with the process, and a logout reaches only this process. Use
// auth.Sessions when several processes serve the dashboard.
type MemoryCookies struct {
	mu   sync.Mutex
	now  func() time.Time
	live map[string]time.Time // id → expiry
}

// NewMemoryCookies returns an empty MemoryCookies; now nil means time.Now.
func NewMemoryCookies(now func() time.Time) *MemoryCookies {
	if now == nil {
		now = time.Now
	}
	return &MemoryCookies{now: now, live: map[string]time.Time{}}
}

// AddCookie implements CookieStore; expired sessions are dropped here.
func (m *MemoryCookies) AddCookie(_ context.Context, id string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, exp := range m.live {
		if !now.Before(exp) {
			delete(m.live, k)
		}
	}
	m.live[id] = expires
	return nil
}

// CookieLive implements CookieStore.
func (m *MemoryCookies) CookieLive(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.live[id]
	return ok && m.now().Before(exp), nil
}

// RevokeCookie implements CookieStore.
func (m *MemoryCookies) RevokeCookie(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.live, id)
	return nil
}

// cookieDigest is what the sessions table keeps for a dashboard session
// id. The domain prefix keeps it apart from Bearer session digests (which
// hash "ats_…" tokens), so a cookie id is never a Bearer token.
func cookieDigest(id string) []byte {
	d := sha256.Sum256([]byte("atlas dashboard cookie\x00" + id))
	return d[:]
}

// AddCookie implements CookieStore on the sessions table, as a session of
// the system user (the admin token's user).
func (s *Sessions) AddCookie(ctx context.Context, id string, expires time.Time) error {
	uid, err := s.st.SystemUserID(ctx)
	if err != nil {
		return err
	}
	_, err = s.st.DB().ExecContext(ctx, s.st.Rebind(`INSERT INTO sessions (user_id, token_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?)`), uid, cookieDigest(id), s.now().UTC(), expires.UTC())
	if err != nil {
		return fmt.Errorf("add dashboard session: %w", err)
	}
	return nil
}

// CookieLive implements CookieStore.
func (s *Sessions) CookieLive(ctx context.Context, id string) (bool, error) {
	var expires time.Time
	var revokedAt sql.NullTime
	err := s.st.DB().QueryRowContext(ctx, s.st.Rebind(`SELECT expires_at, revoked_at FROM sessions WHERE token_hash = ?`),
		cookieDigest(id)).Scan(&expires, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up dashboard session: %w", err)
	}
	return !revokedAt.Valid && s.now().Before(expires), nil
}

// RevokeCookie implements CookieStore.
func (s *Sessions) RevokeCookie(ctx context.Context, id string) error {
	_, err := s.st.DB().ExecContext(ctx, s.st.Rebind(`UPDATE sessions SET revoked_at = ?
		WHERE token_hash = ? AND revoked_at IS NULL`), s.now().UTC(), cookieDigest(id))
	if err != nil {
		return fmt.Errorf("revoke dashboard session: %w", err)
	}
	return nil
}
