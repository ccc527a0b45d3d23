package store

import (
	"context"
	"fmt"
	"time"
)

// SystemUserPhone is the phone of the system user, the author of actions
// taken with the admin token (there is no OTP login yet). It is not a
// phone number, so no login can ever reach it.
const SystemUserPhone = "system:admin"

// SystemUserID returns the id of the system user (role admin), creating it
// on first use. Concurrent first calls agree on one row.
func (s *Store) SystemUserID(ctx context.Context) (int64, error) {
	ins := s.Rebind(`INSERT INTO users (phone, role, created_at) VALUES (?, 'admin', ?) ON CONFLICT (phone) DO NOTHING`)
	if _, err := s.db.ExecContext(ctx, ins, SystemUserPhone, time.Now().UTC()); err != nil {
		return 0, fmt.Errorf("system user: %w", err)
	}
	var id int64
	if err := s.db.QueryRowContext(ctx, s.Rebind("SELECT id FROM users WHERE phone = ?"), SystemUserPhone).Scan(&id); err != nil {
		return 0, fmt.Errorf("system user: %w", err)
	}
	return id, nil
}
