-- Every delivery by state, then tenant, then age: `/metrics` counts each open state over the
-- whole outbox (one range per state, as over `webhook_deliveries_open` before), and the admin
-- page counts one tenant's deliveries by state every 2 s while it is open (one range per state
-- and tenant; the sent and cancelled ones up to a bound). Counted over the tenant's
-- deliveries, that read every one the retention keeps: 150 ms a poll on a tenant of 900,000
-- sent ones. Over an expression (`STATE`, `portable/stats.rs`) that only those counts name,
-- so no claim or stream read is planned through it (see migration 17). A delivery's record
-- already enters a new version of the row into every index over all rows (its state is in
-- several), so a full index costs what the partial one over open rows cost, plus a finished
-- version's entry.
DROP INDEX webhook_deliveries_open;
CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries ((status || ''), tenant_id, created_at);
