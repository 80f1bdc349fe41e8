-- The hub's schema, version 1. Kept portable: the PostgreSQL schema differs only in types.
CREATE TABLE IF NOT EXISTS tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domains     TEXT NOT NULL,           -- JSON array
    created_at  INTEGER NOT NULL
);
-- Each domain belongs to one tenant (the first that claimed it).
CREATE TABLE IF NOT EXISTS tenant_domains (
    domain      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_secrets (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    domain      TEXT NOT NULL,           -- '*' for all domains
    secret      TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_secrets_by_tenant ON api_secrets (tenant_id, domain);
-- The per-tenant timeline clock: last position handed out, and how far entries were pruned.
CREATE TABLE IF NOT EXISTS tenant_clock (
    tenant_id       TEXT PRIMARY KEY,
    last_ms         INTEGER NOT NULL,
    pruned_through  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS integration_tokens (
    token               TEXT PRIMARY KEY,
    tenant_id           TEXT,
    state               TEXT NOT NULL,
    integration_type    TEXT,
    domain              TEXT,
    skip_requested      INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    acknowledged_at     INTEGER,
    upload_received     INTEGER NOT NULL,
    upload_finished     INTEGER NOT NULL,
    batch_size          INTEGER NOT NULL,
    setup_completed_at  INTEGER
);
CREATE INDEX IF NOT EXISTS integration_tokens_by_tenant ON integration_tokens (tenant_id);
-- `doc` is the comment's JSON and the truth; the other columns are copies for lookups.
CREATE TABLE IF NOT EXISTS comments (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    url_id              TEXT NOT NULL,
    parent_id           TEXT,
    external_id         TEXT,
    external_parent_id  TEXT,
    date_ms             INTEGER NOT NULL,
    upload_token        TEXT,
    doc                 TEXT NOT NULL,
    event_pos           INTEGER          -- the timeline entry whose payload is `doc` by reference
);
CREATE UNIQUE INDEX IF NOT EXISTS comments_by_external ON comments (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
-- A thread's comments by (date, id), and the whole tenant thread by thread (the WXR export's
-- keyset walk). It replaced `comments_by_thread (tenant_id, url_id, date_ms)`, which lacked
-- `id` and so could not end a keyset page inside a run of equal dates without a sort.
DROP INDEX IF EXISTS comments_by_thread;
CREATE INDEX IF NOT EXISTS comments_in_thread ON comments (tenant_id, url_id, date_ms, id);
CREATE INDEX IF NOT EXISTS comments_by_date ON comments (tenant_id, date_ms, id);
CREATE INDEX IF NOT EXISTS comments_waiting_for_parent ON comments (tenant_id, external_parent_id)
    WHERE parent_id IS NULL AND external_parent_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS votes (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    comment_id  TEXT NOT NULL,
    user_id     TEXT,
    direction   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS votes_by_comment ON votes (comment_id, user_id);
CREATE TABLE IF NOT EXISTS timeline (
    tenant_id     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    url_id        TEXT NOT NULL,
    origin_token  TEXT,
    only_token    TEXT,
    payload       TEXT,
    doc_ref       TEXT,                  -- payload NULL: it is this comment's `doc` (see triggers)
    PRIMARY KEY (tenant_id, created_at)
);  -- a rowid table: payloads (~1 KB) fit in its pages, where WITHOUT ROWID spills each to an overflow page
-- Webhooks (SPEC §2): configuration per tenant and domain ('*' = any domain), the outbox of
-- deliveries written in the comment change's transaction, and every attempt's log.
CREATE TABLE IF NOT EXISTS webhook_configs (
    tenant_id   TEXT NOT NULL,
    domain      TEXT NOT NULL,
    config      TEXT NOT NULL,           -- JSON: WebhookConfig minus the keys
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    comment_id       TEXT NOT NULL,
    position         INTEGER NOT NULL,   -- the change's timeline position: per-comment order
    kind             TEXT NOT NULL,
    domain           TEXT,               -- the comment's domain (picks the signing secret)
    config_domain    TEXT NOT NULL,
    subscription_id  TEXT NOT NULL DEFAULT '',  -- '' for the per-domain configurations
    url              TEXT NOT NULL,
    target_host      TEXT NOT NULL DEFAULT '',  -- host:port of url: per-host in-flight limit
    method           TEXT NOT NULL,
    legacy_token     INTEGER NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,   -- 0: the hub's default
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_error       TEXT,
    ready            INTEGER NOT NULL DEFAULT 0,  -- 1: the head of its comment's stream (see migrate.rs)
    recovered_from   TEXT                -- a recover's copy: the delivery it copies (its webhook-id)
);
-- One comment's deliveries of one stream (a stream is a comment's deliveries to one target),
-- in order: what settling a stream's head reads. It names all three of the stream's columns,
-- and the index of a target's deliveries (mod.rs) is over an expression of the subscription,
-- so no other index can win the planner's choice. It replaced `webhook_deliveries_by_comment`
-- (tenant, comment, position).
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_stream ON webhook_deliveries (tenant_id, comment_id, subscription_id, position);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_tenant ON webhook_deliveries (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id    TEXT NOT NULL,
    attempt        INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    url            TEXT NOT NULL,
    method         TEXT NOT NULL,
    status_code    INTEGER,
    response_body  TEXT,
    duration_ms    INTEGER NOT NULL,
    error          TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
-- Secrets being retired after a rotation (issue 13 §3): removed by maintenance at retires_at.
CREATE TABLE IF NOT EXISTS api_secret_retirements (
    secret_id   TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    retires_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_secret_retirements_due ON api_secret_retirements (retires_at);
-- Retention walks finished deliveries by age (issue 13 §4), over an expression only it names
-- (`FINISHED_AT`, portable/outbox.rs): see the PostgreSQL migration 19.
CREATE INDEX IF NOT EXISTS webhook_deliveries_finished_at ON webhook_deliveries
    ((CASE WHEN status IN ('succeeded', 'cancelled') THEN updated_at END))
    WHERE (CASE WHEN status IN ('succeeded', 'cancelled') THEN updated_at END) IS NOT NULL;
-- Webhook subscriptions (issue 13 §1): a URL for some kinds of some domains' changes.
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    url              TEXT NOT NULL,
    method           TEXT NOT NULL,      -- '' for the default (POST)
    kinds            TEXT NOT NULL,      -- JSON array, sorted
    domains          TEXT NOT NULL,      -- JSON array, sorted
    fire_on_import   INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    failing_since    INTEGER,
    disabled_at      INTEGER,
    disabled_reason  TEXT
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_by_tenant ON webhook_subscriptions (tenant_id, created_at);
-- Admin page sessions, so that every node (and a restarted hub) knows them.
CREATE TABLE IF NOT EXISTS admin_sessions (
    id          TEXT PRIMARY KEY,
    doc         TEXT NOT NULL,           -- JSON: the pages' session
    anonymous   INTEGER NOT NULL,        -- nobody signed in yet (capped in number)
    created_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_sessions_by_seen ON admin_sessions (anonymous, seen_at);
-- One row the writer rewrites to learn whether a commit can happen (`/readyz` while writes
-- are failing, e.g. on a full disk); nothing reads it.
CREATE TABLE IF NOT EXISTS write_probe (
    id  INTEGER PRIMARY KEY,
    n   INTEGER NOT NULL
);
-- Who flagged which comment: one row per comment and flagger (`u:` + a user id, or `a:` +
-- an anonymous user id), so flagging twice counts once.
CREATE TABLE IF NOT EXISTS comment_flags (
    comment_id  TEXT NOT NULL,
    flagger     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (comment_id, flagger)
);
-- A thread's page: its stable id, title and URL (one per tenant and urlId). Made with the
-- thread's first comment, or through the API; threads stored before pages existed get theirs
-- once, in `migrate.rs`.
CREATE TABLE IF NOT EXISTS pages (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    url_id      TEXT NOT NULL,
    url         TEXT,
    title       TEXT,
    is_closed   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS pages_by_thread ON pages (tenant_id, url_id);
-- Imports (issue 24): one row per file imported; `doc` is the record as JSON.
CREATE TABLE IF NOT EXISTS imports (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS imports_by_tenant ON imports (tenant_id, created_at);
-- Recovers (issue 23 §3): the last one of each target (`s:` + a subscription's id, `c:` + a
-- configuration's domain), where its queuing got to, and until when the node queuing it
-- holds it (a node that stops leaves it to be started again once that passed).
CREATE TABLE IF NOT EXISTS webhook_recoveries (
    tenant_id        TEXT NOT NULL,
    target           TEXT NOT NULL,
    id               TEXT NOT NULL,
    since            INTEGER NOT NULL,
    until            INTEGER NOT NULL,
    cursor_position  INTEGER NOT NULL,
    cursor_id        TEXT NOT NULL,
    queued           INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    lease_until      INTEGER NOT NULL,
    finished_at      INTEGER,
    PRIMARY KEY (tenant_id, target)
);
