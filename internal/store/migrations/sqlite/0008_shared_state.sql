-- State every node shares, sqlite dialect. Keep in step with ../postgres/0008_shared_state.sql.

-- The live sitemap generation (one row). Generations' files are in the
-- configured storage under sitemaps/<generation>/; a publish uploads every
-- file first, then moves this pointer in one statement (previous keeps the
-- generation it replaced). published_at is unix ms.
CREATE TABLE sitemap_live (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    generation   TEXT NOT NULL,
    previous     TEXT NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL
);

-- Shadow-mode comparisons: counts per module since the table was created,
-- and the most recent mismatches (the recorder deletes all but the newest
-- few hundred after each insert). at is unix ms.
CREATE TABLE shadow_counts (
    module     TEXT PRIMARY KEY,
    matches    INTEGER NOT NULL DEFAULT 0,
    mismatches INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE shadow_mismatches (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    module  TEXT NOT NULL,
    subject TEXT NOT NULL,
    ids     TEXT NOT NULL,
    live    TEXT NOT NULL,
    shadow  TEXT NOT NULL,
    at      INTEGER NOT NULL
);
