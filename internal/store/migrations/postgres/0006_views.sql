-- Post view flushes, postgres dialect. Keep in step with ../sqlite/0006_views.sql.
-- internal/views buffers post views (Redis or in-process) and a flush job
-- applies each sealed batch to posts.view_count. The batch id is inserted
-- here in the same transaction as the updates, so a batch that is applied
-- again after a crash (committed, but not yet deleted from the buffer)
-- finds its id and changes nothing. views is what the batch added to
-- existing posts. Rows older than the retention (7 days) are pruned by
-- the flush.
CREATE TABLE view_flushes (
    batch_id   TEXT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL,
    views      BIGINT NOT NULL
);
CREATE INDEX view_flushes_applied_idx ON view_flushes (applied_at);
