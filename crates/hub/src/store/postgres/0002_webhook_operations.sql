-- Issue 13: operating webhooks at scale.
-- Secrets being retired after a rotation: removed by maintenance at retires_at.
CREATE TABLE api_secret_retirements (
    secret_id   TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    retires_at  BIGINT NOT NULL
);
CREATE INDEX api_secret_retirements_due ON api_secret_retirements (retires_at);
-- Retention walks finished deliveries by age.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at)
    WHERE status IN ('succeeded', 'cancelled');
