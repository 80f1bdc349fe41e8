-- Every delivery not sent (waiting, paused, failed for good, cancelled) by state, then
-- tenant, then age: `/metrics` counts each open state over the whole outbox (one range per
-- state, as over `webhook_deliveries_open` before), and the admin page counts one tenant's
-- deliveries by state every 2 s while it is open (one range per state and tenant, and the
-- sent ones, which are in no range here, up to a bound through `webhook_deliveries_by_tenant`).
-- Counted over the tenant's deliveries, that read every one the retention keeps: 150 ms a
-- poll on a tenant of 900,000 sent ones. Over an expression (`STATE`, `portable/stats.rs`)
-- that only those counts name, so no claim or stream read is planned through it (see
-- migration 17); partial on it too (`UNSENT`), so a sent delivery's new version enters no
-- entry here and a record costs what it did.
DROP INDEX webhook_deliveries_open;
CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries ((status || ''), tenant_id, created_at)
    WHERE (status || '') <> 'succeeded';
