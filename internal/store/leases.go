package store

import (
	"context"
	"fmt"
	"time"
)

// AcquireLease takes the lease name for owner until now+ttl when it is
// free, lapsed, or already owner's. It reports whether owner holds it.
// One statement (an upsert whose update only applies to a lapsed or own
// row), so two processes racing for a free lease cannot both win.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration, now time.Time) (bool, error) {
	ms := now.UnixMilli()
	res, err := s.db.ExecContext(ctx, s.Rebind(`INSERT INTO leases (name, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
		WHERE leases.expires_at <= ? OR leases.owner = excluded.owner`), name, owner, ms, now.Add(ttl).UnixMilli(), ms)
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

// RenewLease extends owner's lease to now+ttl; it reports false when owner
// no longer holds it (it lapsed and another holder took it).
func (s *Store) RenewLease(ctx context.Context, name, owner string, ttl time.Duration, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.Rebind(`UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ?`),
		now.Add(ttl).UnixMilli(), name, owner)
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives up owner's lease; releasing a lease one does not hold
// does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if _, err := s.db.ExecContext(ctx, s.Rebind(`DELETE FROM leases WHERE name = ? AND owner = ?`), name, owner); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
