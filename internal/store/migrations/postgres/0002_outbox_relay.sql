-- Outbox relay columns, PostgreSQL dialect. Keep in step with ../sqlite/0002_outbox_relay.sql.
-- trace: the W3C traceparent of the request that wrote the event.
-- mode: the rollout mode the producer ran in ('shadow' or 'async').
-- lease_until: unix ms before which no relay may claim the row (a claim
--   lease, a fast-path grace period, or a retry backoff).
ALTER TABLE outbox ADD COLUMN trace TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN mode TEXT NOT NULL DEFAULT 'async';
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
-- Pruning published rows by age.
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
