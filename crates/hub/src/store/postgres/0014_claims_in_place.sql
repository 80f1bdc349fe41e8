-- Issue 23 §2: a claim (and its release) changes only `claimed_by` and `lease_until`, and
-- neither is in an index any more, so PostgreSQL can write the claimed row as a heap-only
-- tuple: no new entry in each of the table's indexes for every claim, and no dead ones for
-- the claim's walk over the ready index to step over. The next due instant is read from the
-- ready deliveries' `next_attempt_at` alone; a claim that ends without a record is found by
-- the dispatcher's next look, which comes at least once a second.
-- The index is over `next_attempt_at + 0`, an expression the claim does not name: over the
-- plain column the planner took it for a pair's candidates on a freshly filled outbox (a
-- walk over every host's due rows, as with the index migration 10 removed).
DROP INDEX webhook_deliveries_next_due;
CREATE INDEX webhook_deliveries_due_ready ON webhook_deliveries ((next_attempt_at + 0))
    WHERE ready AND status IN ('queued', 'retrying');
-- Room on each page for the claimed version of its rows (heap-only updates need it on the
-- same page, and a claim takes a page's rows together, in queuing order): half of each page
-- is left for them. Pages written from now on; a pending delivery is claimed and recorded
-- within seconds of being queued, so the outbox's busy pages are new ones. The cost: the
-- outbox's new pages hold half the rows they could (docs/webhooks.md says so).
ALTER TABLE webhook_deliveries SET (fillfactor = 50);
