-- The claim's per-comment order check ("no earlier pending delivery of this comment in this
-- stream") as an exact index over pending deliveries only. Without it, on an outbox filled
-- faster than statistics follow, the planner probed `webhook_deliveries_by_target` on
-- `subscription_id` alone: 2,573 rows per candidate, 26 ms per claim, one node held to about
-- 500 deliveries/s (nodes_delivery bench, auto_explain).
CREATE INDEX webhook_deliveries_pending_by_comment ON webhook_deliveries
    (tenant_id, comment_id, subscription_id, position)
    WHERE status IN ('queued', 'retrying');
