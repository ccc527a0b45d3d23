-- Domain schema, SQLite dialect. Keep in step with ../postgres/0001_init.sql.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    phone      TEXT NOT NULL UNIQUE,           -- E.164, e.g. +989121234567
    role       TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'owner', 'admin')),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,           -- SHA-256 of the bearer token; the token itself is never stored
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE cities (
    id               INTEGER PRIMARY KEY,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    name_fa          TEXT NOT NULL,
    province         TEXT NOT NULL,
    salon_count      INTEGER NOT NULL DEFAULT 0,
    review_count     INTEGER NOT NULL DEFAULT 0,
    avg_rating       REAL NOT NULL DEFAULT 0,
    stats_updated_at TIMESTAMP
);

CREATE TABLE salons (
    id             INTEGER PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    city_id        INTEGER NOT NULL REFERENCES cities(id),
    verified       BOOLEAN NOT NULL DEFAULT FALSE,
    rating_sum     INTEGER NOT NULL DEFAULT 0,
    rating_count   INTEGER NOT NULL DEFAULT 0,
    rating_avg     REAL NOT NULL DEFAULT 0,
    bayesian_score REAL NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
-- Salons of a city ranked by score (list by city, sort=rating; city stats).
CREATE INDEX salons_city_score_idx ON salons (city_id, bayesian_score DESC, id);
-- All salons ranked by score (list without a city, sort=rating).
CREATE INDEX salons_score_idx ON salons (bayesian_score DESC, id);

CREATE TABLE slug_history (
    entity    TEXT NOT NULL,                   -- 'salon', 'city', 'post'
    old_slug  TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (entity, old_slug)
);

CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY,
    salon_id   INTEGER NOT NULL REFERENCES salons(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body       TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('pending', 'published', 'rejected')),
    created_at TIMESTAMP NOT NULL
);
-- recompute-review-aggregates: SUM/COUNT of published reviews of one salon.
CREATE INDEX reviews_salon_status_idx ON reviews (salon_id, status);
CREATE INDEX reviews_user_idx ON reviews (user_id);

CREATE TABLE posts (
    id           INTEGER PRIMARY KEY,
    slug         TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    published_at TIMESTAMP,
    view_count   INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX posts_published_idx ON posts (published_at DESC, id);

CREATE TABLE media (
    id           INTEGER PRIMARY KEY,
    owner_type   TEXT NOT NULL,                -- 'salon', 'user', 'post'
    owner_id     INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'ready', 'failed')),
    original_key TEXT NOT NULL,
    variants     TEXT NOT NULL DEFAULT '{}',   -- JSON object: variant name -> storage key
    width        INTEGER,
    height       INTEGER,
    placeholder  TEXT,                         -- tiny blurred preview (data URI or BlurHash)
    error        TEXT,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX media_owner_idx ON media (owner_type, owner_id);

CREATE TABLE verification_requests (
    id          INTEGER PRIMARY KEY,
    salon_id    INTEGER NOT NULL REFERENCES salons(id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    reviewer_id INTEGER REFERENCES users(id),
    created_at  TIMESTAMP NOT NULL,
    decided_at  TIMESTAMP
);
CREATE INDEX verification_requests_salon_idx ON verification_requests (salon_id, status);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,                -- JSON
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
-- The relay scans unpublished events in order.
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
