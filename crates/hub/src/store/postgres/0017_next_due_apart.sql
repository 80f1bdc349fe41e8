-- Issue 23: when the next ready delivery is due is read through an index no other statement
-- can use. The index it replaces had the claim's own predicate (`ready AND status IN
-- ('queued', 'retrying')`), so it was a way to the claim's rows too, as a whole-index scan
-- with a filter: on an outbox whose statistics were taken while it held no ready row
-- (between two bursts, as autovacuum's ANALYZE finds it) every index over ready rows looked
-- empty, and PostgreSQL walked that one at each step of the claim, every ready row each time
-- (a recover of 30,000 drained at 417 deliveries/s). And `next_due_at` itself could take the
-- claim's index instead. This one is over an expression that is null unless the delivery is
-- ready and pending, partial on that expression: only a statement naming the expression
-- (`next_due_at`, `portable/outbox.rs`) can read it, and that statement no other index.
DROP INDEX webhook_deliveries_due_ready;
CREATE INDEX webhook_deliveries_next_ready ON webhook_deliveries
    ((CASE WHEN ready AND status IN ('queued', 'retrying') THEN next_attempt_at END))
    WHERE (CASE WHEN ready AND status IN ('queued', 'retrying') THEN next_attempt_at END) IS NOT NULL;
