-- Issue 23: each comment's stream (its deliveries to one subscription, or to the per-domain
-- configurations) carries its head: the waiting delivery (queued, retrying or paused) at the
-- least position is `ready`, and the claim reads ready rows only, through one partial index,
-- instead of checking per claim that no earlier delivery of the comment waits (an anti-join
-- whose plan depended on fresh statistics). Waiting deliveries queued before get their flag
-- here; later writes keep it (see `portable/outbox.rs`).
ALTER TABLE webhook_deliveries ADD COLUMN ready BOOLEAN NOT NULL DEFAULT false;
UPDATE webhook_deliveries SET ready = NOT ready WHERE id IN (SELECT s.id FROM webhook_deliveries s
    WHERE s.status IN ('queued', 'retrying', 'paused') AND s.ready <> (s.position = (SELECT MIN(m.position)
    FROM webhook_deliveries m WHERE m.tenant_id = s.tenant_id AND m.comment_id = s.comment_id
    AND m.subscription_id = s.subscription_id AND m.status IN ('queued', 'retrying', 'paused'))));
CREATE INDEX webhook_deliveries_ready ON webhook_deliveries
    (target_host, subscription_id, next_attempt_at, position)
    WHERE ready AND status IN ('queued', 'retrying');
-- It replaces the index over every pending delivery, whose columns it has.
DROP INDEX webhook_deliveries_by_target;
-- When the next ready delivery is due (`next_due_at`): the first entry of this index, instead
-- of a walk over every pending delivery's `next_attempt_at`. The old index also offered the
-- claim a second way to its candidates, which the planner took on a freshly filled outbox.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_next_due ON webhook_deliveries
    ((GREATEST(next_attempt_at, COALESCE(lease_until, 0))))
    WHERE ready AND status IN ('queued', 'retrying');
