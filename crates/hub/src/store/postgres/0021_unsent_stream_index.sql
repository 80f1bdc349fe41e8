-- One comment's deliveries of one stream, what is left to send of it first: locking the
-- streams a write ends, settling their heads and a new delivery's head check read only the
-- stream's unsent deliveries (waiting, paused, failed for good, cancelled), as the range
-- `unsent_position(…) IS NOT NULL` (store/rows.rs) of this index. Through
-- `webhook_deliveries_by_stream`, which it replaces, they stepped over the stream's sent
-- history for each row's state: a comment voted on for a month, or recovered again, made each
-- of its records walk all of it (a recover's copies, each the third of its stream, took the
-- streams' lock three times as long). Not partial: ANALYZE takes a partial index's statistics
-- from its own rows only, so the planner read `IS NOT NULL` as true of every delivery and
-- walked the table (a stream of 3,000 sent, `claim_costs`); over every row, the expression's
-- statistics say how few are unsent. A sent delivery's new version writes one entry here, as
-- it did in the index replaced. The log of one comment reads it by (tenant, comment).
CREATE INDEX webhook_deliveries_unsent_by_stream ON webhook_deliveries
    (tenant_id, comment_id, subscription_id, (CASE WHEN status <> 'succeeded' THEN position END));
DROP INDEX webhook_deliveries_by_stream;
