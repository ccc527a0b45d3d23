-- The public pages, sqlite dialect. Keep in step with ../postgres/0018_site.sql.
-- A salon gets a street address (shown on its page and in its JSON-LD) and
-- an owner (the user who may attach its photos and file verification
-- requests); a post an author. A media item attached to a salon or a post
-- says its role (gallery or cover) and its place in the gallery.
ALTER TABLE salons ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE salons ADD COLUMN owner_id INTEGER REFERENCES users(id);
ALTER TABLE posts ADD COLUMN author_id INTEGER REFERENCES users(id);
ALTER TABLE media ADD COLUMN role TEXT CHECK (role IN ('gallery', 'cover'));
ALTER TABLE media ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
-- Removed salons: the row is deleted, each slug that led to it (current
-- and historic) is kept here so its page answers 410 Gone, not 404.
CREATE TABLE salon_removals (
    slug       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    removed_at TIMESTAMP NOT NULL
);
