-- Issue 13: the outbox is walked by (host, subscription), so a subscription at its in-flight
-- limit is skipped with one seek instead of a walk over its backlog. The new index has the
-- old one's prefix and replaces it.
CREATE INDEX webhook_deliveries_by_target ON webhook_deliveries
    (target_host, subscription_id, next_attempt_at, position)
    WHERE status IN ('queued', 'retrying');
DROP INDEX webhook_deliveries_by_host;
