-- The hub's schema on PostgreSQL, version 1: the SQLite schema's tables and columns, in
-- PostgreSQL's types. Documents stay TEXT (not JSONB): they go out byte for byte as stored.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domains     TEXT NOT NULL,           -- JSON array
    created_at  BIGINT NOT NULL
);
-- Each domain belongs to one tenant (the first that claimed it).
CREATE TABLE tenant_domains (
    domain      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL
);
CREATE TABLE api_secrets (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    domain      TEXT NOT NULL,           -- '*' for all domains
    secret      TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_secrets_by_tenant ON api_secrets (tenant_id, domain);
-- The per-tenant timeline clock: last position handed out, and how far entries were pruned.
-- A writing transaction locks its tenant's row (UPDATE … RETURNING) until it commits, so one
-- tenant's appends commit in position order on any number of nodes.
CREATE TABLE tenant_clock (
    tenant_id       TEXT PRIMARY KEY,
    last_ms         BIGINT NOT NULL,
    pruned_through  BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE integration_tokens (
    token               TEXT PRIMARY KEY,
    tenant_id           TEXT,
    state               TEXT NOT NULL,
    integration_type    TEXT,
    domain              TEXT,
    skip_requested      BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL,
    acknowledged_at     BIGINT,
    upload_received     BIGINT NOT NULL,
    upload_finished     BOOLEAN NOT NULL,
    batch_size          BIGINT NOT NULL,
    setup_completed_at  BIGINT
);
CREATE INDEX integration_tokens_by_tenant ON integration_tokens (tenant_id);
-- `doc` is the comment's JSON and the truth; the other columns are copies for lookups.
CREATE TABLE comments (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    url_id              TEXT NOT NULL,
    parent_id           TEXT,
    external_id         TEXT,
    external_parent_id  TEXT,
    date_ms             BIGINT NOT NULL,
    upload_token        TEXT,
    doc                 TEXT NOT NULL
);
CREATE UNIQUE INDEX comments_by_external ON comments (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX comments_by_thread ON comments (tenant_id, url_id, date_ms);
CREATE INDEX comments_by_date ON comments (tenant_id, date_ms, id);
CREATE INDEX comments_waiting_for_parent ON comments (tenant_id, external_parent_id)
    WHERE parent_id IS NULL AND external_parent_id IS NOT NULL;
CREATE TABLE votes (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    comment_id  TEXT NOT NULL,
    user_id     TEXT,
    direction   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX votes_by_comment ON votes (comment_id, user_id);
-- Every entry holds its payload: the comment or vote as of the event.
CREATE TABLE timeline (
    tenant_id     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    url_id        TEXT NOT NULL,
    origin_token  TEXT,
    only_token    TEXT,
    payload       TEXT,
    PRIMARY KEY (tenant_id, created_at)
);
CREATE INDEX timeline_by_time ON timeline (created_at);
CREATE TABLE webhook_configs (
    tenant_id   TEXT NOT NULL,
    domain      TEXT NOT NULL,
    config      TEXT NOT NULL,           -- JSON: WebhookConfig
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
-- The outbox. A node claims due rows for `lease_until` (FOR UPDATE SKIP LOCKED): no other
-- node takes them while the lease lives; a killed node's rows come back when it ends.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    comment_id       TEXT NOT NULL,
    position         BIGINT NOT NULL,    -- the change's timeline position: per-comment order
    kind             TEXT NOT NULL,
    domain           TEXT,               -- the comment's domain (picks the signing secret)
    config_domain    TEXT NOT NULL,
    url              TEXT NOT NULL,
    target_host      TEXT NOT NULL DEFAULT '',  -- host:port of url: per-host in-flight limit
    method           TEXT NOT NULL,
    legacy_token     BOOLEAN NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    max_attempts     BIGINT NOT NULL,    -- 0: the hub's default
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_error       TEXT,
    claimed_by       TEXT,
    lease_until      BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('queued', 'retrying');
-- The outbox is walked host by host (per-host in-flight limits): one seek per pending host.
CREATE INDEX webhook_deliveries_by_host ON webhook_deliveries (target_host, next_attempt_at, position)
    WHERE status IN ('queued', 'retrying');
CREATE INDEX webhook_deliveries_by_comment ON webhook_deliveries (tenant_id, comment_id, position);
CREATE INDEX webhook_deliveries_by_tenant ON webhook_deliveries (tenant_id, created_at);
CREATE TABLE webhook_attempts (
    delivery_id    TEXT NOT NULL,
    attempt        BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    url            TEXT NOT NULL,
    method         TEXT NOT NULL,
    status_code    BIGINT,
    response_body  TEXT,
    duration_ms    BIGINT NOT NULL,
    error          TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
