-- Admin page sessions in the database, so that a session opened on one node is known on every
-- other (no sticky sessions needed behind a load balancer).
CREATE TABLE admin_sessions (
    id          TEXT PRIMARY KEY,
    doc         TEXT NOT NULL,           -- JSON: the pages' session
    anonymous   BOOLEAN NOT NULL,        -- nobody signed in yet (capped in number)
    created_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL
);
CREATE INDEX admin_sessions_by_seen ON admin_sessions (anonymous, seen_at);
