//! The store's three traits for both backends (compiled once in each: see `portable/mod.rs`):
//! a read by key is written here; every other method forwards to the query of the same name,
//! in `portable/` or in the backend's own files. What a backend does in its own way at this level (claiming the database for one
//! hub, notices from other nodes, the probe write, applying a change and an upload, giving
//! back claims) is in its `dialect.rs`; a write PostgreSQL may lose to a concurrent one runs
//! in `retrying`, which runs it again on contention there and just once on SQLite.

use super::dialect::{self, bounded, Backend};
use super::{
    comment_reads, flags, imports, listing, outbox, pages, recover, rotation, sessions, stats,
    subscriptions, tenants,
};
use super::{comments, retention, timeline_log, tokens, webhooks};
use super::{read_all, read_one, read_rows};
use crate::ids::TenantId;
use crate::records::{
    ApiSecret, Applied, AttemptOutcome, Change, CommentsQuery, Delivery, DeliveryAttempt,
    DeliveryCounts, DeliveryFilter, DeliveryStatus, DueQuery, ImportRecord, IntegrationToken,
    NewEntry, Notice, Page, PageChange, Recovery, SecretRetirement, SessionRecord, Subscription,
    Tenant, TimelineBounds, TimelineEntry, TimelineQuery, TokenRecord, UploadBatch, UploadOutcome,
    WebhookConfig, WebhookStats,
};
use crate::store::rows::{
    readable_comments, secret_from_row, session_from_row, subscription_from_row, tenant_from_row,
    token_from_row, vote_from_row,
};
use crate::store::{SessionStore, Store, StoreError, StoreReads, StoreResult};
use async_trait::async_trait;
use fastcomments_protocol::{Comment, CommentIdMapping, Millis, Vote};
use std::collections::HashMap;
use tokio::sync::broadcast;

#[async_trait]
impl StoreReads for Backend {
    fn write_fault(&self) -> Option<StoreError> {
        dialect::write_fault(self)
    }

    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        bounded(self, async move {
            let text = "SELECT * FROM tenants WHERE id = ?";
            read_one(self, text, &[id.as_str()], tenant_from_row).await
        })
        .await
    }

    async fn secret_by_value(&self, secret: &str) -> StoreResult<Option<ApiSecret>> {
        bounded(self, async move {
            let text = "SELECT * FROM api_secrets WHERE secret = ?";
            read_one(self, text, &[secret], secret_from_row).await
        })
        .await
    }

    async fn list_secrets(&self, tenant: &TenantId) -> StoreResult<Vec<ApiSecret>> {
        bounded(self, async move {
            let text = "SELECT * FROM api_secrets WHERE tenant_id = ? ORDER BY created_at, id";
            read_all(self, text, &[tenant.as_str()], secret_from_row).await
        })
        .await
    }

    async fn secret_retirements(&self, tenant: &TenantId) -> StoreResult<Vec<SecretRetirement>> {
        bounded(self, async move {
            rotation::secret_retirements(self, tenant).await
        })
        .await
    }

    async fn webhook_stats(&self) -> StoreResult<WebhookStats> {
        bounded(self, async move { stats::webhook_stats(self).await }).await
    }

    async fn subscriptions(&self, tenant: &TenantId) -> StoreResult<Vec<Subscription>> {
        bounded(self, async move {
            let text =
                "SELECT * FROM webhook_subscriptions WHERE tenant_id = ? ORDER BY created_at, id";
            read_all(self, text, &[tenant.as_str()], subscription_from_row).await
        })
        .await
    }

    async fn token(&self, token: &IntegrationToken) -> StoreResult<Option<TokenRecord>> {
        bounded(self, async move {
            let text = "SELECT * FROM integration_tokens WHERE token = ?";
            read_one(self, text, &[token.as_str()], token_from_row).await
        })
        .await
    }

    async fn list_tokens(&self, tenant: &TenantId) -> StoreResult<Vec<TokenRecord>> {
        bounded(self, async move {
            let text =
                "SELECT * FROM integration_tokens WHERE tenant_id = ? ORDER BY created_at, token";
            read_all(self, text, &[tenant.as_str()], token_from_row).await
        })
        .await
    }

    async fn comment(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Comment>> {
        bounded(self, async move {
            comment_reads::comment(self, tenant, id).await
        })
        .await
    }

    async fn comment_by_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
    ) -> StoreResult<Option<Comment>> {
        bounded(self, async move {
            comment_reads::comment_by_external_id(self, tenant, external_id).await
        })
        .await
    }

    async fn comments_after(
        &self,
        tenant: &TenantId,
        after: Option<(Millis, &str)>,
        limit: u64,
    ) -> StoreResult<Vec<Comment>> {
        bounded(self, async move {
            comment_reads::comments_after(self, tenant, after, limit).await
        })
        .await
    }

    async fn comments_by_thread_after(
        &self,
        tenant: &TenantId,
        after: Option<(&str, Millis, &str)>,
        limit: u64,
    ) -> StoreResult<Vec<Comment>> {
        bounded(self, async move {
            comment_reads::comments_by_thread_after(self, tenant, after, limit).await
        })
        .await
    }

    async fn comments_by_url(&self, tenant: &TenantId, url_id: &str) -> StoreResult<Vec<Comment>> {
        bounded(self, async move {
            let text =
                "SELECT id, doc FROM comments WHERE tenant_id = ? AND url_id = ? ORDER BY date_ms, id";
            readable_comments(&read_rows(self, text, &[tenant.as_str(), url_id]).await?)
        })
        .await
    }

    async fn comments_page(
        &self,
        tenant: &TenantId,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Comment>> {
        bounded(self, async move {
            comment_reads::comments_page(self, tenant, skip, limit).await
        })
        .await
    }

    async fn list_comments(
        &self,
        tenant: &TenantId,
        q: &CommentsQuery<'_>,
    ) -> StoreResult<Vec<Comment>> {
        bounded(self, async move {
            comment_reads::list_comments(self, tenant, q).await
        })
        .await
    }

    async fn count_comments(&self, tenant: &TenantId) -> StoreResult<u64> {
        bounded(self, async move {
            comment_reads::count_comments(self, tenant).await
        })
        .await
    }

    async fn count_flagged(&self, tenant: &TenantId) -> StoreResult<u64> {
        bounded(self, async move {
            comment_reads::count_flagged(self, tenant).await
        })
        .await
    }

    async fn vote(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Vote>> {
        bounded(self, async move {
            let text = "SELECT doc FROM votes WHERE tenant_id = ? AND id = ?";
            read_one(self, text, &[tenant.as_str(), id], vote_from_row).await
        })
        .await
    }

    async fn thread_votes(
        &self,
        tenant: &TenantId,
        url_id: &str,
        voter: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Vote>> {
        bounded(self, async move {
            comment_reads::thread_votes(self, tenant, url_id, voter, limit).await
        })
        .await
    }

    async fn imports(&self, tenant: &TenantId, limit: u64) -> StoreResult<Vec<ImportRecord>> {
        bounded(self, async move {
            imports::imports(self, tenant, None, limit).await
        })
        .await
    }

    async fn import(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ImportRecord>> {
        bounded(self, async move {
            Ok(imports::imports(self, tenant, Some(id), 1).await?.pop())
        })
        .await
    }

    async fn pages(&self, tenant: &TenantId, limit: u64) -> StoreResult<Vec<Page>> {
        bounded(self, async move { pages::pages(self, tenant, limit).await }).await
    }

    async fn page(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Page>> {
        bounded(self, async move {
            pages::page_by(self, tenant, false, id).await
        })
        .await
    }

    async fn page_by_url_id(&self, tenant: &TenantId, url_id: &str) -> StoreResult<Option<Page>> {
        bounded(self, async move {
            pages::page_by(self, tenant, true, url_id).await
        })
        .await
    }

    async fn flag_counts(
        &self,
        tenant: &TenantId,
        ids: &[&str],
    ) -> StoreResult<HashMap<String, u64>> {
        bounded(
            self,
            async move { flags::flag_counts(self, tenant, ids).await },
        )
        .await
    }

    async fn read_timeline(&self, q: &TimelineQuery) -> StoreResult<Vec<TimelineEntry>> {
        bounded(
            self,
            async move { timeline_log::read_timeline(self, q).await },
        )
        .await
    }

    async fn count_timeline(&self, q: &TimelineQuery, cap: u64) -> StoreResult<u64> {
        bounded(self, async move {
            timeline_log::count_timeline(self, q, cap).await
        })
        .await
    }

    async fn timeline_bounds(&self, tenant: &TenantId) -> StoreResult<TimelineBounds> {
        bounded(self, async move {
            timeline_log::timeline_bounds(self, tenant).await
        })
        .await
    }

    async fn webhook_configs(&self, tenant: &TenantId) -> StoreResult<Vec<WebhookConfig>> {
        bounded(
            self,
            async move { outbox::webhook_configs(self, tenant).await },
        )
        .await
    }

    async fn next_due_at(&self, after: Millis) -> StoreResult<Option<Millis>> {
        bounded(self, async move { outbox::next_due_at(self, after).await }).await
    }

    async fn deliveries(
        &self,
        tenant: &TenantId,
        status: Option<DeliveryStatus>,
        comment_id: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        bounded(self, async move {
            outbox::deliveries(self, tenant, status, comment_id, limit).await
        })
        .await
    }

    async fn delivery(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>> {
        bounded(
            self,
            async move { outbox::delivery(self, tenant, id).await },
        )
        .await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        bounded(self, async move {
            let text = "SELECT * FROM tenants ORDER BY name, id";
            read_all(self, text, &[], tenant_from_row).await
        })
        .await
    }

    async fn find_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter<'_>,
    ) -> StoreResult<Vec<Delivery>> {
        bounded(self, async move {
            listing::find_deliveries(self, tenant, filter).await
        })
        .await
    }

    async fn count_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter<'_>,
    ) -> StoreResult<u64> {
        bounded(self, async move {
            listing::count_deliveries(self, tenant, filter).await
        })
        .await
    }

    async fn delivery_counts(
        &self,
        tenant: &TenantId,
        sent_up_to: u64,
    ) -> StoreResult<DeliveryCounts> {
        bounded(self, async move {
            listing::delivery_counts(self, tenant, sent_up_to).await
        })
        .await
    }
}

#[async_trait]
impl SessionStore for Backend {
    async fn save_session(&self, s: &SessionRecord, keep_anonymous: u64) -> StoreResult<()> {
        bounded(self, async move {
            // Two sign-in forms opened at once trim the same anonymous rows.
            self.retrying("save_session", || {
                sessions::save_session(self, s, keep_anonymous)
            })
            .await
        })
        .await
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        bounded(self, async move {
            let text = "SELECT * FROM admin_sessions WHERE id = ?";
            read_one(self, text, &[id], session_from_row).await
        })
        .await
    }

    async fn touch_session(&self, id: &str, seen_at: Millis) -> StoreResult<()> {
        bounded(self, async move {
            sessions::touch_session(self, id, seen_at).await
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        bounded(
            self,
            async move { sessions::delete_session(self, id).await },
        )
        .await
    }

    async fn delete_expired_sessions(
        &self,
        seen_before: Millis,
        created_before: Millis,
    ) -> StoreResult<u64> {
        bounded(self, async move {
            sessions::delete_expired_sessions(self, seen_before, created_before).await
        })
        .await
    }
}

#[async_trait]
impl Store for Backend {
    fn claim_for_serving(&self) -> StoreResult<()> {
        dialect::claim_for_serving(self)
    }

    fn notices(&self) -> Option<broadcast::Receiver<Notice>> {
        dialect::notices(self)
    }

    async fn probe_write(&self) -> StoreResult<()> {
        bounded(self, async move { dialect::probe_write(self).await }).await
    }

    async fn create_tenant(&self, tenant: &Tenant, wildcard: &ApiSecret) -> StoreResult<()> {
        bounded(self, async move {
            tenants::create_tenant(self, tenant, wildcard).await
        })
        .await
    }

    async fn save_import(&self, record: &ImportRecord) -> StoreResult<()> {
        bounded(
            self,
            async move { imports::save_import(self, record).await },
        )
        .await
    }

    async fn start_import(
        &self,
        record: &ImportRecord,
        fresh_since: Millis,
    ) -> StoreResult<Option<ImportRecord>> {
        bounded(self, async move {
            imports::start_import(self, record, fresh_since).await
        })
        .await
    }

    async fn add_page(&self, page: &Page) -> StoreResult<()> {
        bounded(self, async move { pages::add_page(self, page).await }).await
    }

    async fn change_page(
        &self,
        tenant: &TenantId,
        id: &str,
        change: &PageChange,
    ) -> StoreResult<bool> {
        bounded(self, async move {
            pages::change_page(self, tenant, id, change).await
        })
        .await
    }

    async fn set_flag(
        &self,
        tenant: &TenantId,
        id: &str,
        flagger: &str,
        flagged: bool,
        now: Millis,
    ) -> StoreResult<Option<u64>> {
        bounded(self, async move {
            flags::set_flag(self, tenant, id, flagger, flagged, now).await
        })
        .await
    }

    async fn add_secret(&self, s: &ApiSecret) -> StoreResult<()> {
        bounded(self, async move { tenants::add_secret(self, s).await }).await
    }

    async fn delete_secret(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ApiSecret>> {
        bounded(self, async move {
            tenants::delete_secret(self, tenant, id).await
        })
        .await
    }

    async fn rotate_secret(
        &self,
        tenant: &TenantId,
        old_id: &str,
        new: &ApiSecret,
        retires_at: Millis,
    ) -> StoreResult<(ApiSecret, ApiSecret)> {
        bounded(self, async move {
            rotation::rotate_secret(self, tenant, old_id, new, retires_at).await
        })
        .await
    }

    async fn retire_secrets(&self, now: Millis) -> StoreResult<Vec<ApiSecret>> {
        bounded(
            self,
            async move { rotation::retire_secrets(self, now).await },
        )
        .await
    }

    async fn prune_deliveries(&self, before: Millis, limit: u64) -> StoreResult<u64> {
        bounded(self, async move {
            retention::prune_deliveries(self, before, limit).await
        })
        .await
    }

    async fn create_subscription(&self, s: &Subscription) -> StoreResult<(Subscription, bool)> {
        bounded(self, async move {
            subscriptions::create_subscription(self, s).await
        })
        .await
    }

    async fn delete_subscription(
        &self,
        tenant: &TenantId,
        id: &str,
        now: Millis,
    ) -> StoreResult<Option<Subscription>> {
        bounded(self, async move {
            self.retrying("delete_subscription", || {
                subscriptions::delete_subscription(self, tenant, id, now)
            })
            .await
        })
        .await
    }

    async fn set_subscription_enabled(
        &self,
        tenant: &TenantId,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<Subscription> {
        bounded(self, async move {
            // Pausing or resuming rewrites the subscription's pending deliveries, which a
            // dispatcher may be claiming at that moment (a deadlock PostgreSQL breaks): run again.
            self.retrying("set_subscription_enabled", || {
                subscriptions::set_subscription_enabled(self, tenant, id, enabled, reason, now)
            })
            .await
        })
        .await
    }

    async fn disable_failing_subscriptions(
        &self,
        failing_before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<Subscription>> {
        bounded(self, async move {
            subscriptions::disable_failing_subscriptions(self, failing_before, now).await
        })
        .await
    }

    async fn register_token(&self, r: &TokenRecord) -> StoreResult<TokenRecord> {
        bounded(self, async move { tokens::register_token(self, r).await }).await
    }

    async fn save_token(
        &self,
        record: &TokenRecord,
        entry: Option<NewEntry>,
        now: Millis,
    ) -> StoreResult<(TokenRecord, Option<TimelineEntry>)> {
        bounded(self, async move {
            self.retrying("save_token", || {
                tokens::save_token(self, record, entry.clone(), now)
            })
            .await
        })
        .await
    }

    async fn halve_batch_size(&self, token: &IntegrationToken) -> StoreResult<TokenRecord> {
        bounded(
            self,
            async move { tokens::halve_batch_size(self, token).await },
        )
        .await
    }

    async fn describe_token(
        &self,
        token: &IntegrationToken,
        integration_type: Option<&str>,
        domain: Option<&str>,
    ) -> StoreResult<TokenRecord> {
        bounded(self, async move {
            tokens::describe_token(self, token, integration_type, domain).await
        })
        .await
    }

    async fn revoke_token(&self, token: &IntegrationToken) -> StoreResult<TokenRecord> {
        bounded(self, async move { tokens::revoke_token(self, token).await }).await
    }

    async fn restart_upload(&self, record: &TokenRecord) -> StoreResult<TokenRecord> {
        bounded(self, async move {
            self.retrying("restart_upload", || tokens::restart_upload(self, record))
                .await
        })
        .await
    }

    async fn delete_expired_pending(&self, created_before: Millis) -> StoreResult<u64> {
        bounded(self, async move {
            tokens::delete_expired_pending(self, created_before).await
        })
        .await
    }

    async fn trim_pending_tokens(
        &self,
        from: &str,
        per_address: u64,
        overall: Option<u64>,
    ) -> StoreResult<Vec<IntegrationToken>> {
        bounded(self, async move {
            tokens::trim_pending_tokens(self, from, per_address, overall).await
        })
        .await
    }

    async fn apply(&self, tenant: &TenantId, change: Change, now: Millis) -> StoreResult<Applied> {
        bounded(self, async move {
            dialect::apply(self, tenant, change, now).await
        })
        .await
    }

    async fn upload(&self, batch: UploadBatch, now: Millis) -> StoreResult<UploadOutcome> {
        bounded(self, async move { dialect::upload(self, batch, now).await }).await
    }

    async fn set_local_ids(
        &self,
        tenant: &TenantId,
        mappings: &[CommentIdMapping],
    ) -> StoreResult<u64> {
        bounded(self, async move {
            self.retrying("set_local_ids", || {
                comments::set_local_ids(self, tenant, mappings)
            })
            .await
        })
        .await
    }

    async fn prune_timeline(&self, before: Millis) -> StoreResult<u64> {
        bounded(self, async move {
            timeline_log::prune_timeline(self, before).await
        })
        .await
    }

    async fn put_webhook_config(
        &self,
        tenant: &TenantId,
        config: &WebhookConfig,
        now: Millis,
    ) -> StoreResult<()> {
        bounded(self, async move {
            outbox::put_webhook_config(self, tenant, config, now).await
        })
        .await
    }

    async fn due_deliveries(&self, q: &DueQuery<'_>) -> StoreResult<Vec<Delivery>> {
        bounded(self, async move { webhooks::due_deliveries(self, q).await }).await
    }

    async fn release_claims(&self, ids: &[String]) -> StoreResult<()> {
        bounded(
            self,
            async move { dialect::release_claims(self, ids).await },
        )
        .await
    }

    async fn record_attempts(&self, outcomes: &[AttemptOutcome], now: Millis) -> StoreResult<bool> {
        bounded(self, async move {
            if outcomes.is_empty() {
                return Ok(false);
            }
            webhooks::record_attempts(self, outcomes, now).await
        })
        .await
    }

    async fn cancel_delivery(
        &self,
        tenant: &TenantId,
        id: &str,
        now: Millis,
    ) -> StoreResult<Delivery> {
        bounded(self, async move {
            outbox::cancel_delivery(self, tenant, id, now).await
        })
        .await
    }

    async fn retry_delivery(
        &self,
        tenant: &TenantId,
        id: &str,
        now: Millis,
        extra_attempts: i64,
    ) -> StoreResult<Delivery> {
        bounded(self, async move {
            outbox::retry_delivery(self, tenant, id, now, extra_attempts).await
        })
        .await
    }

    async fn begin_recovery(
        &self,
        r: &Recovery,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<()> {
        bounded(self, async move {
            self.retrying("begin_recovery", || {
                recover::begin_recovery(self, r, now, lease_until)
            })
            .await
        })
        .await
    }

    async fn recover_page(
        &self,
        r: &Recovery,
        limit: u64,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Recovery> {
        bounded(self, async move {
            // A page takes its streams' rows as a change's queuing does, which a dispatcher's
            // claim or record may hold at that moment (a deadlock PostgreSQL breaks): run again.
            self.retrying("recover_page", || {
                recover::recover_page(self, r, limit, now, lease_until)
            })
            .await
        })
        .await
    }

    async fn retry_failed_since(
        &self,
        tenant: &TenantId,
        since: Millis,
        now: Millis,
        extra_attempts: i64,
    ) -> StoreResult<u64> {
        bounded(self, async move {
            listing::retry_failed_since(self, tenant, since, now, extra_attempts).await
        })
        .await
    }
}
