-- Named leases, sqlite dialect. Keep in step with ../postgres/0004_leases.sql.
-- A lease gives one holder across every Atlas process the right to run a
-- singleton (the sitemap rebuild). owner is a random token per
-- acquisition; expires_at and acquired_at are unix ms from the holder's
-- clock. A holder renews before expiry; a crashed holder's lease lapses.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
