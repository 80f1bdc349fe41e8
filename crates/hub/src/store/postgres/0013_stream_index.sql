-- One comment's deliveries of one stream, in order: what settling a stream's head reads
-- (`settle_heads`, and the head check of a new delivery). It names all three of the stream's
-- columns, so the recover index (migration 11: a target's deliveries, two of those columns)
-- cannot win the planner's choice on stale statistics, which would make each settle read a
-- whole target's outbox. It replaces the index over (tenant, comment, position).
CREATE INDEX webhook_deliveries_by_stream ON webhook_deliveries
    (tenant_id, comment_id, subscription_id, position);
DROP INDEX webhook_deliveries_by_comment;
