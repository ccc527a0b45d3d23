package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sevra/atlas/internal/store"
)

// SessionPrefix starts every user session token, so a leaked token is easy
// to recognise (secret scanners, logs) and never mistaken for the admin
// token.
const SessionPrefix = "ats_"

// DefaultSessionTTL is how long a user session lasts unless configured.
const DefaultSessionTTL = 30 * 24 * time.Hour

// Sessions stores user sessions in the sessions table: only the SHA-256
// digest of each token, its user, expiry and revocation. It implements
// SessionLookup. It is safe for concurrent use.
type Sessions struct {
	st  *store.Store
	ttl time.Duration
	now func() time.Time
}

// NewSessions returns a session store on st; ttl <= 0 means
// DefaultSessionTTL; now nil means time.Now.
func NewSessions(st *store.Store, ttl time.Duration, now func() time.Time) *Sessions {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Sessions{st: st, ttl: ttl, now: now}
}

// TTL is how long a new session lasts.
func (s *Sessions) TTL() time.Duration { return s.ttl }

// Create starts a session for userID through q (a transaction, or the
// database when nil) and returns its bearer token (SessionPrefix plus 43
// base64url characters: 256 random bits) and expiry. The token is returned
// once and never stored.
func (s *Sessions) Create(ctx context.Context, q Execer, userID int64) (string, time.Time, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("session token: %w", err)
	}
	token := SessionPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now().UTC()
	exp := now.Add(s.ttl)
	if q == nil {
		q = s.st.DB()
	}
	digest := sha256.Sum256([]byte(token))
	_, err := q.ExecContext(ctx, s.st.Rebind(`INSERT INTO sessions (user_id, token_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?)`), userID, digest[:], now, exp)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	return token, exp, nil
}

// Execer runs a statement; *sql.Tx and *sql.DB implement it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// LookupSession implements SessionLookup: the user behind a live session
// token. An unknown, malformed, expired or revoked token is
// ErrUnauthenticated.
func (s *Sessions) LookupSession(ctx context.Context, token string) (Identity, error) {
	if !strings.HasPrefix(token, SessionPrefix) || len(token) > 128 {
		return Identity{}, ErrUnauthenticated
	}
	digest := sha256.Sum256([]byte(token))
	var (
		id        Identity
		role      string
		expires   time.Time
		revokedAt sql.NullTime
	)
	err := s.st.DB().QueryRowContext(ctx, s.st.Rebind(`SELECT s.user_id, u.role, s.expires_at, s.revoked_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`), digest[:]).
		Scan(&id.UserID, &role, &expires, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, ErrUnauthenticated
	}
	if err != nil {
		return Identity{}, fmt.Errorf("look up session: %w", err)
	}
	if revokedAt.Valid || !s.now().Before(expires) {
		return Identity{}, ErrUnauthenticated
	}
	id.Kind, id.Admin = KindUser, role == "admin"
	return id, nil
}

// Revoke ends the session of token at once; revoking an unknown or
// already revoked token is not an error (logout is idempotent).
func (s *Sessions) Revoke(ctx context.Context, token string) error {
	digest := sha256.Sum256([]byte(token))
	_, err := s.st.DB().ExecContext(ctx, s.st.Rebind(`UPDATE sessions SET revoked_at = ?
		WHERE token_hash = ? AND revoked_at IS NULL`), s.now().UTC(), digest[:])
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}
