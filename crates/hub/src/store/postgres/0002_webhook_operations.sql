-- Issue 13: operating webhooks at scale.
-- Secrets being retired after a rotation: removed by maintenance at retires_at.
CREATE TABLE api_secret_retirements (
    secret_id   TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    retires_at  BIGINT NOT NULL
);
CREATE INDEX api_secret_retirements_due ON api_secret_retirements (retires_at);
