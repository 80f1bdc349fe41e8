-- Issue 23 §2: a subscription's deliveries are found through the index of a target's
-- deliveries (migration 11's recover index, by tenant and subscription; migration 16's since),
-- as every statement that names a subscription also names its tenant. The index over
-- `subscription_id` alone only cost an entry for each delivery queued and each attempt
-- recorded (a record changes `status`, so it is never written in place and every index of the
-- outbox gets an entry).
DROP INDEX webhook_deliveries_by_subscription;
