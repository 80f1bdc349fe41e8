//! Every write whose result a cache of [`Hub`] holds: the store call and the cache update
//! together, so that no handler can make the one and forget the other. Handlers write through
//! these (or [`Hub::apply`]) and read through [`Hub::reads`]; the store itself is private to
//! the hub, so the compiler holds them to it.

use super::{revoked, Hub};
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{self, TenantId};
use crate::records::{
    ApiSecret, Delivery, IntegrationToken, NewEntry, TokenRecord, TokenState, UploadBatch,
    UploadOutcome,
};
use crate::store::StoreResult;
use axum::http::StatusCode;
use fastcomments_protocol::Millis;
use std::sync::atomic::Ordering;

impl Hub {
    /// Registers a token as pending (a plugin's first `PUT`), or returns the record already
    /// stored under it.
    pub async fn register_token(&self, record: &TokenRecord) -> StoreResult<TokenRecord> {
        let stored = self.store.register_token(record).await?;
        self.token_changed(&record.token);
        Ok(stored)
    }

    /// Registers a token a plugin announced from `from` (its client address's counting key),
    /// then keeps the pending tokens of that address, and every so often those of the whole
    /// hub, under their caps, removing the oldest first (issue 20 §3).
    pub async fn register_pending(
        &self,
        record: &TokenRecord,
        from: &str,
    ) -> StoreResult<TokenRecord> {
        let fresh = TokenRecord {
            registered_from: Some(from.to_owned()),
            ..record.clone()
        };
        let stored = self.register_token(&fresh).await?;
        if stored.state != TokenState::Pending {
            return Ok(stored);
        }
        let n = self.pending_registrations.fetch_add(1, Ordering::Relaxed);
        let overall = (n.checked_rem(crate::config::PENDING_OVERALL_EVERY) == Some(0))
            .then_some(self.config.pending_tokens_overall);
        let removed = self
            .store
            .trim_pending_tokens(from, self.config.pending_tokens_per_address.max(1), overall)
            .await?;
        if !removed.is_empty() {
            tracing::info!(
                removed = removed.len(),
                "pending integration tokens over their cap removed, oldest first"
            );
        }
        for token in &removed {
            self.token_changed(token);
        }
        Ok(stored)
    }

    /// Fills in the integration type and domain of a token acknowledged before the plugin's
    /// first call.
    pub async fn describe_token(
        &self,
        token: &IntegrationToken,
        integration_type: Option<&str>,
        domain: Option<&str>,
    ) -> StoreResult<TokenRecord> {
        let saved = self
            .store
            .describe_token(token, integration_type, domain)
            .await?;
        self.token_changed(token);
        Ok(saved)
    }

    /// Halves a token's upload batch size after a 413.
    pub async fn halve_batch_size(&self, token: &IntegrationToken) -> StoreResult<TokenRecord> {
        let lowered = self.store.halve_batch_size(token).await?;
        self.token_changed(token);
        Ok(lowered)
    }

    /// Starts a token's upload over (a re-sync).
    pub async fn restart_upload(&self, record: &TokenRecord) -> StoreResult<TokenRecord> {
        let saved = self.store.restart_upload(record).await?;
        self.token_changed(&record.token);
        Ok(saved)
    }

    /// Revokes a token for good.
    pub async fn revoke_token(&self, token: &IntegrationToken) -> StoreResult<TokenRecord> {
        let saved = self.store.revoke_token(token).await?;
        self.token_changed(token);
        tracing::info!(token = %ids::redact(token.as_str()), "integration token revoked");
        Ok(saved)
    }

    /// Stores an upload batch; its entries reach idle polls, its webhooks the dispatcher.
    pub async fn upload(&self, batch: UploadBatch) -> StoreResult<UploadOutcome> {
        let (tenant, token, count) = (
            batch.tenant_id.clone(),
            batch.token.clone(),
            batch.comments.len(),
        );
        let outcome = self.store.upload(batch, self.now()).await?;
        self.note_entries(&tenant, &outcome.entries);
        if outcome.deliveries > 0 {
            self.webhook_wake.notify_one();
        }
        self.token_changed(&token);
        self.metrics.comments_uploaded.add(count as u64);
        Ok(outcome)
    }

    /// Removes one of a tenant's API secrets; `None` when it has none with that id.
    pub async fn delete_secret(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<ApiSecret>> {
        let removed = self.store.delete_secret(tenant, id).await?;
        if let Some(s) = &removed {
            self.forget_secret(s);
        }
        Ok(removed)
    }

    /// Rotates the secret `id` (issue 13 §3): a new secret for its domain now, the old one
    /// kept `overlap` longer (both sign and authenticate meanwhile), then retired by
    /// maintenance. Returns the old and the new secret and when the old one retires.
    pub async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &str,
        overlap: std::time::Duration,
    ) -> StoreResult<(ApiSecret, ApiSecret, Millis)> {
        let now = self.now();
        let overlap = i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX);
        let retires_at = Millis(now.0.saturating_add(overlap));
        let new = ApiSecret {
            id: crate::ids::object_id(),
            tenant_id: tenant.to_owned(),
            domain: String::new(), // the store sets the old secret's
            secret: crate::ids::api_secret(),
            created_at: now.0,
        };
        let (old, new) = self
            .store
            .rotate_secret(tenant, id, &new, retires_at)
            .await?;
        self.tenant_secrets.write().remove(tenant);
        tracing::info!(tenant = tenant.as_str(), old = %old.id, new = %new.id, domain = %new.domain, retires_at = retires_at.0, "API secret rotation started");
        Ok((old, new, retires_at))
    }

    /// Enables or disables a subscription; enabling wakes the dispatcher for its paused
    /// deliveries.
    pub async fn set_subscription_enabled(
        &self,
        tenant: &TenantId,
        id: &str,
        enabled: bool,
    ) -> StoreResult<crate::records::Subscription> {
        let reason = (!enabled).then_some("disabled by the tenant");
        let s = self
            .store
            .set_subscription_enabled(tenant, id, enabled, reason, self.now())
            .await?;
        tracing::info!(
            tenant = tenant.as_str(),
            subscription = id,
            enabled,
            "webhook subscription changed"
        );
        if enabled {
            self.webhook_wake.notify_one();
        }
        Ok(s)
    }

    /// A receiver answered `410 Gone` to `d` (issue 13 §1): its subscription is removed, or,
    /// for a per-domain configuration, that kind's target (each is a subscription of one
    /// kind); logged either way.
    pub async fn receiver_gone(&self, d: &Delivery) -> StoreResult<()> {
        if !d.subscription_id.is_empty() {
            let removed = self
                .store
                .delete_subscription(&d.tenant_id, &d.subscription_id, self.now())
                .await?;
            if removed.is_some() {
                self.metrics.subscriptions_disabled_here.inc();
                tracing::warn!(tenant = %d.tenant_id, subscription = %d.subscription_id, url = %crate::redact::url(&d.url), delivery = %d.id, "the receiver answered 410 Gone: webhook subscription removed (unsubscribed)");
            }
            return Ok(());
        }
        let configs = self.store.webhook_configs(&d.tenant_id).await?;
        let Some(mut config) = configs.into_iter().find(|c| c.domain == d.config_domain) else {
            return Ok(());
        };
        let slot = match d.kind {
            fastcomments_protocol::WebhookEventKind::Create => &mut config.create,
            fastcomments_protocol::WebhookEventKind::Update => &mut config.update,
            fastcomments_protocol::WebhookEventKind::Delete => &mut config.delete,
        };
        // Only if it still points where the 410 came from (it may have been changed since).
        if slot.as_ref().is_some_and(|t| t.url == d.url) {
            *slot = None;
            self.store
                .put_webhook_config(&d.tenant_id, &config, self.now())
                .await?;
            self.metrics.subscriptions_disabled_here.inc();
            tracing::warn!(tenant = %d.tenant_id, domain = %d.config_domain, kind = d.kind.as_str(), url = %crate::redact::url(&d.url), delivery = %d.id, "the receiver answered 410 Gone: the configuration's target for this kind removed (unsubscribed)");
        }
        Ok(())
    }

    /// Queues a failed or cancelled delivery again, with a fresh budget of attempts, due now.
    pub async fn retry_delivery(&self, tenant: &TenantId, id: &str) -> StoreResult<Delivery> {
        let d = self
            .store
            .retry_delivery(tenant, id, self.now(), self.config.webhook_max_attempts)
            .await?;
        self.webhook_wake.notify_one();
        Ok(d)
    }

    /// Binds a token to `tenant` (SPEC §1.1); acknowledging again is idempotent. A
    /// well-formed token the hub has not seen yet is registered first: the official harness
    /// and setup links acknowledge before the plugin's first `PUT`, which then finds it
    /// validated. `skip` (else what the plugin asked) skips the initial upload.
    pub async fn acknowledge_token(
        &self,
        tenant: &TenantId,
        token: &IntegrationToken,
        skip: Option<bool>,
        allow_api_secret: Option<bool>,
    ) -> ApiResult<TokenRecord> {
        let record = match self.token_record(token).await? {
            Some(r) => r,
            None => {
                if !fastcomments_protocol::is_valid_token(token.as_str()) {
                    return Err(super::malformed_token());
                }
                // Registered as pending and acknowledged below, as if the plugin had called
                // first; a plugin `PUT` racing with this finds one record either way.
                self.register_token(&TokenRecord::pending(
                    token,
                    self.now(),
                    self.config.initial_batch_size,
                ))
                .await?
            }
        };
        let ttl = self.config.pending_token_ttl.as_millis() as i64;
        match record.state {
            TokenState::Validated if record.tenant_id.as_ref() == Some(tenant) => {
                // Acknowledging again may change only whether it may read an API secret.
                return match allow_api_secret {
                    Some(allow) if allow != record.api_secret_allowed => {
                        let mut next = record.clone();
                        next.api_secret_allowed = allow;
                        let (saved, _) = self.store.save_token(&next, None, self.now()).await?;
                        self.token_changed(&saved.token);
                        Ok(saved)
                    }
                    _ => Ok(record),
                };
            }
            TokenState::Validated => return Err(ApiError::not_found("integration token")),
            TokenState::Revoked => return Err(revoked()),
            TokenState::Pending if record.created_at + ttl < self.now().0 => {
                return Err(ApiError::new(
                    StatusCode::GONE,
                    Code::TokenExpired,
                    "this token expired; the plugin must register again",
                ))
            }
            TokenState::Pending => {}
        }
        let skip = skip.unwrap_or(record.skip_requested);
        let mut next = record.clone();
        next.tenant_id = Some(tenant.to_owned());
        next.state = TokenState::Validated;
        next.acknowledged_at = Some(self.now().0);
        next.skip_requested = skip;
        next.upload_finished = skip;
        next.api_secret_allowed = allow_api_secret.unwrap_or(false);
        let entry = skip.then(|| NewEntry::setup_completed(token));
        let (saved, written) = self.store.save_token(&next, entry, self.now()).await?;
        if let Some(e) = written {
            self.note_entries(tenant, &[e]);
        }
        self.token_changed(&saved.token);
        tracing::info!(token = %ids::redact(token.as_str()), tenant = tenant.as_str(), skip, "integration token acknowledged");
        Ok(saved)
    }

    /// Queues again every failed delivery of `tenant` that failed at or after `since`, each
    /// with a fresh budget of attempts, due now; returns how many.
    pub async fn retry_failed_since(&self, tenant: &TenantId, since: Millis) -> StoreResult<u64> {
        let n = self
            .store
            .retry_failed_since(tenant, since, self.now(), self.config.webhook_max_attempts)
            .await?;
        if n > 0 {
            self.webhook_wake.notify_one();
        }
        Ok(n)
    }

    /// Stores plugin-local ids (`meta.wpId`) of the tenant's comments; how many were found.
    /// No cache holds them: here so that the store stays private to the hub.
    pub async fn set_local_ids(
        &self,
        tenant: &TenantId,
        mappings: &[fastcomments_protocol::CommentIdMapping],
    ) -> StoreResult<u64> {
        self.store.set_local_ids(tenant, mappings).await
    }
}
