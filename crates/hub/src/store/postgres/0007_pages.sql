-- A thread's page: its stable id, title and URL (one per tenant and urlId). Made with the
-- thread's first comment, or through the API; threads stored before now get theirs here.
CREATE TABLE pages (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    url_id      TEXT NOT NULL,
    url         TEXT,
    title       TEXT,
    is_closed   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX pages_by_thread ON pages (tenant_id, url_id);
INSERT INTO pages (id, tenant_id, url_id, url, title, created_at)
SELECT substr(md5(random()::text || tenant_id || '/' || url_id), 1, 24), tenant_id, url_id,
       max(doc::jsonb ->> 'url'), max(doc::jsonb ->> 'pageTitle'), min(date_ms)
FROM comments GROUP BY tenant_id, url_id;
