-- `/metrics` counts the outbox's open deliveries by state (waiting, or failed for good) and
-- finds the oldest waiting one, refreshed each second someone asks (the endpoint is public).
-- Counted by state over the whole table, that read every delivery the retention keeps (a
-- month of sent ones: 0.7 s a refresh on 1,000,000 rows). This index holds the open ones
-- only, over an expression (`OPEN_STATE`, `portable/stats.rs`) that no other statement
-- names, so no claim or stream read is planned through it (see migration 17).
CREATE INDEX webhook_deliveries_open ON webhook_deliveries
    ((CASE WHEN status IN ('queued', 'retrying', 'paused', 'failed') THEN status END), created_at)
    WHERE (CASE WHEN status IN ('queued', 'retrying', 'paused', 'failed') THEN status END) IS NOT NULL;
