-- Issue 23 §3, recover: a copy of an earlier delivery, queued again for a receiver that lost
-- what it had, names the delivery it copies (whose id its `webhook-id` carries). The index
-- walks one target's deliveries by position, a page at a time; the table holds each target's
-- last recover (`s:` + a subscription's id, `c:` + a configuration's domain): where its
-- queuing got to, and until when the node queuing it holds it.
ALTER TABLE webhook_deliveries ADD COLUMN recovered_from TEXT;
CREATE INDEX webhook_deliveries_recover ON webhook_deliveries
    (tenant_id, subscription_id, position, id);
CREATE TABLE webhook_recoveries (
    tenant_id        TEXT NOT NULL,
    target           TEXT NOT NULL,
    id               TEXT NOT NULL,
    since            BIGINT NOT NULL,
    until            BIGINT NOT NULL,
    cursor_position  BIGINT NOT NULL,
    cursor_id        TEXT NOT NULL,
    queued           BIGINT NOT NULL,
    started_at       BIGINT NOT NULL,
    lease_until      BIGINT NOT NULL,
    finished_at      BIGINT,
    PRIMARY KEY (tenant_id, target)
);
