-- OTP login, sqlite dialect. Keep in step with ../postgres/0005_otp.sql.
-- One row per login code request. id is the public challenge id (32 hex
-- digits from crypto/rand). The code itself is never stored in the clear:
-- code_hash is HMAC-SHA256(server secret, id ":" code), compared in
-- constant time at verify; code_box is the code sealed with AES-256-GCM
-- under a key derived from the same secret, opened only by the send-otp
-- job. Both are NULL when the provider generates and checks its own code
-- (Twilio Verify). attempts counts verify tries (at most 5); consumed_at
-- makes a challenge single use. sent_at, provider, message_id and
-- last_error describe delivery (last_error never holds the code).
CREATE TABLE otp_challenges (
    id          TEXT PRIMARY KEY,
    phone       TEXT NOT NULL,
    code_hash   BLOB,
    code_box    BLOB,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP,
    sent_at     TIMESTAMP,
    provider    TEXT,
    message_id  TEXT,
    last_error  TEXT
);
CREATE INDEX otp_challenges_phone_idx ON otp_challenges (phone, created_at);
CREATE INDEX otp_challenges_expires_idx ON otp_challenges (expires_at);

-- Sessions become revocable (POST /api/v1/auth/logout).
ALTER TABLE sessions ADD COLUMN revoked_at TIMESTAMP;
