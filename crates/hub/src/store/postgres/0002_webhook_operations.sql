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
-- Webhook subscriptions (issue 13 §1): a URL for some kinds of some domains' changes.
CREATE TABLE webhook_subscriptions (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    url              TEXT NOT NULL,
    method           TEXT NOT NULL,      -- '' for each kind's default
    kinds            TEXT NOT NULL,      -- JSON array, sorted
    domains          TEXT NOT NULL,      -- JSON array, sorted
    fire_on_import   BOOLEAN NOT NULL,
    created_at       BIGINT NOT NULL,
    failing_since    BIGINT,
    disabled_at      BIGINT,
    disabled_reason  TEXT
);
CREATE INDEX webhook_subscriptions_by_tenant ON webhook_subscriptions (tenant_id, created_at);
-- Deliveries of one comment go out in order per subscription; '' for the configurations.
ALTER TABLE webhook_deliveries ADD COLUMN subscription_id TEXT NOT NULL DEFAULT '';
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id)
    WHERE subscription_id <> '';
