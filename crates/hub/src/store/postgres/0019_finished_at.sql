-- The retention walks finished (sent or cancelled) deliveries by age through an index no
-- other statement can use: over an expression null unless the delivery finished
-- (`FINISHED_AT`, portable/outbox.rs), partial on it. The index it replaces was over
-- `updated_at` with `status IN ('succeeded', 'cancelled')` as its predicate, so a tenant's
-- delivery log filtered by a finished state could be planned through it: on statistics taken
-- while every delivery waited it looked empty, and PostgreSQL walked every tenant's finished
-- deliveries for one tenant's page of 25 (136 ms on 200,000; a month of retention is more).
DROP INDEX webhook_deliveries_finished;
CREATE INDEX webhook_deliveries_finished_at ON webhook_deliveries
    ((CASE WHEN status IN ('succeeded', 'cancelled') THEN updated_at END))
    WHERE (CASE WHEN status IN ('succeeded', 'cancelled') THEN updated_at END) IS NOT NULL;
