-- Imports (issue 24): one row per file imported; `doc` is the record as JSON.
CREATE TABLE imports (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX imports_by_tenant ON imports (tenant_id, created_at);
