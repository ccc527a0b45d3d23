package main

import (
	"context"
	"fmt"

	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/store"
)

// seedData fills s with the benchmark data set: 200 cities, n salons, 1,000
// posts (about 780 published at run time), no reviews, then one ready media
// row with two variants on every tenth salon, so 10% of salon URLs carry an
// image:image. It then folds the bulk load in as a long-running database
// would have it: SQLite checkpoints its WAL, PostgreSQL is vacuumed and
// analysed.
func seedData(ctx context.Context, s *store.Store, n int) error {
	if _, err := seed.Run(ctx, s, seed.Options{Cities: 200, Salons: n, Posts: 1_000, Seed: 1}); err != nil {
		return err
	}
	variants := `'{"w400":"salons/' || id || '/400.webp","w1600":"salons/' || id || '/1600.webp"}'`
	if s.Dialect() == store.Postgres {
		variants = "(" + variants + ")::jsonb"
	}
	_, err := s.DB().ExecContext(ctx, `INSERT INTO media (owner_type, owner_id, status, original_key, variants, created_at, updated_at)
		SELECT 'salon', id, 'ready', 'orig/' || id, `+variants+`, created_at, updated_at FROM salons WHERE id % 10 = 0`)
	if err != nil {
		return fmt.Errorf("seed media: %w", err)
	}
	fold := "PRAGMA wal_checkpoint(TRUNCATE)"
	if s.Dialect() == store.Postgres {
		fold = "VACUUM ANALYZE"
	}
	if _, err := s.DB().ExecContext(ctx, fold); err != nil {
		return fmt.Errorf("%s: %w", fold, err)
	}
	return nil
}
