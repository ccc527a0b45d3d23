-- Generated server secrets, sqlite dialect. Keep in step with the other dialect.
-- A deployment that sets no ATLAS_AUTH_SECRET gets one generated on first
-- start and stored here, so every node sharing the database shares it
-- (the send-otp worker must open codes the API node sealed). An explicit
-- ATLAS_AUTH_SECRET takes precedence and keeps the secret out of the
-- database.
CREATE TABLE app_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
