-- Who flagged which comment: one row per comment and flagger (`u:` + a user id, or `a:` +
-- an anonymous user id), so flagging twice counts once.
CREATE TABLE comment_flags (
    comment_id  TEXT NOT NULL,
    flagger     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (comment_id, flagger)
);
