-- When the next ready delivery is due (`next_due_at`): the first entry of this index, instead
-- of a walk over every pending delivery's `next_attempt_at`. The old index also offered the
-- claim a second way to its candidates, which the planner took on a freshly filled outbox.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_next_due ON webhook_deliveries
    ((GREATEST(next_attempt_at, COALESCE(lease_until, 0))))
    WHERE ready AND status IN ('queued', 'retrying');
