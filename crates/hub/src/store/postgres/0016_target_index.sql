-- Issue 23 §2: a target's deliveries by position (a recover's pages; pausing, resuming and
-- removing a subscription) are read through an index over the target as an expression,
-- `subscription_id || ''`, which those statements name (`portable/outbox.rs`, `TARGET`).
-- Over the plain columns (tenant, subscription), it was an index the lookups of one comment's
-- stream (tenant, comment, subscription) could take too, and with no statistics yet (an
-- outbox filled by an upload a moment ago) PostgreSQL priced it like the stream index and
-- took it: a walk over the whole target's deliveries for each stream a record settled, a
-- second for a record of 79 on 10,000 deliveries.
CREATE INDEX webhook_deliveries_of_target ON webhook_deliveries
    (tenant_id, (subscription_id || ''), position, id);
DROP INDEX webhook_deliveries_recover;
