-- Whether the admin who acknowledged an integration allowed it to read an API secret of its
-- domain (GET /integrations/v1/api-secret). Off for every token until an admin says so.
ALTER TABLE integration_tokens ADD COLUMN api_secret_allowed BOOLEAN NOT NULL DEFAULT FALSE;
-- The client address that registered a pending token (an IPv6 client's /64): anonymous
-- registrations are capped per address and in all, the oldest going first.
ALTER TABLE integration_tokens ADD COLUMN registered_from TEXT;
CREATE INDEX integration_tokens_pending ON integration_tokens (registered_from, created_at)
    WHERE state = 'pending';
CREATE INDEX integration_tokens_pending_by_age ON integration_tokens (created_at)
    WHERE state = 'pending';
