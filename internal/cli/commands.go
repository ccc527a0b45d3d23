package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/sevra/atlas/internal/seed"
	"github.com/sevra/atlas/internal/store"
)

// openStore opens the configured database and applies migrations.
func openStore(ctx context.Context, e *env, cfg *Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	e.log.Info("database ready", "dialect", st.Dialect(), "migrations_applied", applied)
	return st, nil
}

func runMigrate(ctx context.Context, e *env, cfg *Config, _ []string) error {
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	all, err := st.AppliedVersions(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "applied %d migration(s) %v; schema at version %v (%s)\n", len(applied), applied, all[len(all)-1], st.Dialect())
	return nil
}

func runSeed(ctx context.Context, e *env, cfg *Config, _ []string) error {
	st, err := openStore(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	o := seed.Options{Cities: cfg.SeedCities, Salons: cfg.SeedSalons, Reviews: cfg.SeedReviews, Posts: cfg.SeedPosts, Seed: cfg.SeedValue}
	if cfg.SeedProgress {
		o.Progress = e.stderr
	}
	start := time.Now()
	res, err := seed.Run(ctx, st, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d cities, %d users, %d salons, %d reviews, %d posts, %d redirects in %s (%s)\n",
		res.Cities, res.Users, res.Salons, res.Reviews, res.Posts, res.Redirects, time.Since(start).Round(time.Millisecond), st.Dialect())
	return nil
}
