//! The backend for several hub nodes: one PostgreSQL database that any number of `serve`
//! processes share.
//!
//! What makes several nodes safe, by concern:
//! - positions ([`timeline`]): a writing transaction takes its tenant's clock row with one
//!   `UPDATE … RETURNING` (`max(now, last + 1)`) and holds it until it commits, so one tenant's
//!   appends commit in position order whichever node makes them;
//! - documents ([`comments`], [`apply`], [`upload`]): read-modify-write of a comment locks its
//!   row (`FOR UPDATE`); every timeline entry carries its own payload (the comment as of the
//!   event), so no later write can change an earlier event;
//! - deliveries ([`webhooks`]): claimed with `FOR UPDATE SKIP LOCKED` and a lease, so no two
//!   live nodes send one at once and a killed node's claims come back when their lease ends;
//! - caches ([`notify`]): every commit that other nodes must hear is announced with
//!   `pg_notify`, which PostgreSQL delivers at commit, to a listener on each node.
//!
//! Schema changes are migrations applied on start ([`migrate`]), under sqlx's advisory lock, so
//! nodes starting together apply each once.

use super::rows::*;
use super::*;
use crate::rules;
use crate::rules::upload::{Prepared, StoredComment};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, QueryBuilder, Row};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::broadcast;

mod comments;
mod dialect;
mod migrate;
mod notify;
mod retention;
mod timeline;
mod tokens;
mod upload;
mod webhooks;

// The queries both backends run alike: one source, compiled here against this backend's
// `dialect` (and in the other backend against its own; see `portable/mod.rs`).
#[path = "../portable/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose, against each one's own types"
)]
mod portable;
use portable::{apply, listing, rotation, sessions, stats, subscriptions, tenants};

use comments::*;
use notify::*;
use timeline::*;
use webhooks::*;

/// How many times a write is run again after the database gave it up for a concurrent one.
const CONTENTION_RETRIES: usize = 8;

/// How long the first connection at start-up may take before the hub gives up and says so.
const FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    notices: broadcast::Sender<Notice>,
    /// This process's name in delivery claims.
    node: String,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`), applies the migrations this database lacks and
    /// starts listening for other nodes' notices.
    pub async fn connect(url: &str) -> StoreResult<PostgresStore> {
        // One connection first, with a short limit: the pool retries a refused or silent
        // server for its whole acquire timeout without a word, and a user who mistyped the
        // host should hear so in seconds, told where the hub tried (without the password).
        let shown = crate::redact::url(url);
        let cannot = |why: String| {
            StoreError::Database(format!("cannot connect to PostgreSQL at {shown}: {why}"))
        };
        match tokio::time::timeout(FIRST_CONNECT_TIMEOUT, PgConnection::connect(url)).await {
            Err(_) => {
                return Err(cannot(format!(
                    "no answer within {} s",
                    FIRST_CONNECT_TIMEOUT.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(cannot(e.to_string())),
            Ok(Ok(first)) => {
                let _ = first.close().await;
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(|e| cannot(e.to_string()))?;
        migrate::run(&pool).await?;
        let (notices, _) = broadcast::channel(4096);
        spawn_listener(pool.clone(), notices.clone()).await?;
        Ok(PostgresStore {
            pool,
            notices,
            node: format!("{}-{}", std::process::id(), crate::ids::object_id()),
        })
    }

    /// Closes the pool (waits for in-flight statements).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `work` again while the database gives it up for a concurrent transaction.
    async fn retrying<T, F, Fut>(&self, what: &str, mut work: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>>,
    {
        let mut tries = 0;
        loop {
            match work().await {
                Err(StoreError::Contended(e)) if tries < CONTENTION_RETRIES => {
                    tries += 1;
                    tracing::debug!(what, tries, error = %e, "write contended; running it again");
                    // A little spread so the contenders do not meet again at once.
                    let jitter = u64::from(getrandom_u8()) % 8;
                    tokio::time::sleep(Duration::from_millis(tries as u64 * 2 + jitter)).await;
                }
                other => return other,
            }
        }
    }
}

/// One random byte (retry jitter).
fn getrandom_u8() -> u8 {
    let mut b = [0u8; 1];
    let _ = getrandom::getrandom(&mut b);
    b[0]
}

#[async_trait]
impl StoreReads for PostgresStore {
    async fn tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
        tenants::tenant(self, id).await
    }

    async fn secret_by_value(&self, secret: &str) -> StoreResult<Option<ApiSecret>> {
        tenants::secret_by_value(self, secret).await
    }

    async fn list_secrets(&self, tenant: &str) -> StoreResult<Vec<ApiSecret>> {
        tenants::list_secrets(self, tenant).await
    }

    async fn secret_retirements(&self, tenant: &str) -> StoreResult<Vec<SecretRetirement>> {
        rotation::secret_retirements(self, tenant).await
    }

    async fn webhook_stats(&self) -> StoreResult<WebhookStats> {
        stats::webhook_stats(self).await
    }

    async fn subscriptions(&self, tenant: &str) -> StoreResult<Vec<Subscription>> {
        subscriptions::subscriptions(self, tenant).await
    }

    async fn token(&self, token: &str) -> StoreResult<Option<TokenRecord>> {
        tokens::token(self, token).await
    }

    async fn list_tokens(&self, tenant: &str) -> StoreResult<Vec<TokenRecord>> {
        tokens::list_tokens(self, tenant).await
    }

    async fn comment(&self, tenant: &str, id: &str) -> StoreResult<Option<Comment>> {
        comments::comment(self, tenant, id).await
    }

    async fn comments_by_url(&self, tenant: &str, url_id: &str) -> StoreResult<Vec<Comment>> {
        comments::comments_by_url(self, tenant, url_id).await
    }

    async fn comments_page(
        &self,
        tenant: &str,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Comment>> {
        comments::comments_page(self, tenant, skip, limit).await
    }

    async fn list_comments(
        &self,
        tenant: &str,
        q: &CommentsQuery<'_>,
    ) -> StoreResult<Vec<Comment>> {
        comments::list_comments(self, tenant, q).await
    }

    async fn count_comments(&self, tenant: &str) -> StoreResult<u64> {
        comments::count_comments(self, tenant).await
    }

    async fn vote(&self, tenant: &str, id: &str) -> StoreResult<Option<Vote>> {
        comments::vote(self, tenant, id).await
    }

    async fn read_timeline(&self, q: &TimelineQuery) -> StoreResult<Vec<TimelineEntry>> {
        timeline::read_timeline(self, q).await
    }

    async fn count_timeline(&self, q: &TimelineQuery, cap: u64) -> StoreResult<u64> {
        timeline::count_timeline(self, q, cap).await
    }

    async fn timeline_bounds(&self, tenant: &str) -> StoreResult<TimelineBounds> {
        timeline::timeline_bounds(self, tenant).await
    }

    async fn webhook_configs(&self, tenant: &str) -> StoreResult<Vec<WebhookConfig>> {
        webhooks::webhook_configs(self, tenant).await
    }

    async fn next_due_at(&self, after_ms: i64) -> StoreResult<Option<i64>> {
        webhooks::next_due_at(self, after_ms).await
    }

    async fn deliveries(
        &self,
        tenant: &str,
        status: Option<DeliveryStatus>,
        comment_id: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>> {
        webhooks::deliveries(self, tenant, status, comment_id, limit).await
    }

    async fn delivery(
        &self,
        tenant: &str,
        id: &str,
    ) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>> {
        webhooks::delivery(self, tenant, id).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        listing::list_tenants(self).await
    }

    async fn find_deliveries(
        &self,
        tenant: &str,
        filter: &DeliveryFilter<'_>,
    ) -> StoreResult<Vec<Delivery>> {
        listing::find_deliveries(self, tenant, filter).await
    }

    async fn delivery_counts(&self, tenant: &str) -> StoreResult<DeliveryCounts> {
        listing::delivery_counts(self, tenant).await
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn save_session(&self, s: &SessionRecord, keep_anonymous: u64) -> StoreResult<()> {
        // Two sign-in forms opened at once trim the same anonymous rows.
        self.retrying("save_session", || {
            sessions::save_session(self, s, keep_anonymous)
        })
        .await
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        sessions::session(self, id).await
    }

    async fn touch_session(&self, id: &str, seen_at: i64) -> StoreResult<()> {
        sessions::touch_session(self, id, seen_at).await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        sessions::delete_session(self, id).await
    }

    async fn delete_expired_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> StoreResult<u64> {
        sessions::delete_expired_sessions(self, seen_before, created_before).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn notices(&self) -> Option<broadcast::Receiver<Notice>> {
        Some(self.notices.subscribe())
    }

    async fn probe_write(&self) -> StoreResult<()> {
        // Taking a transaction id makes the commit write a WAL record: a write that touches
        // no table.
        sqlx::query("SELECT txid_current()")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_tenant(&self, tenant: &Tenant, wildcard: &ApiSecret) -> StoreResult<()> {
        tenants::create_tenant(self, tenant, wildcard).await
    }

    async fn add_secret(&self, s: &ApiSecret) -> StoreResult<()> {
        tenants::add_secret(self, s).await
    }

    async fn delete_secret(&self, tenant: &str, id: &str) -> StoreResult<Option<ApiSecret>> {
        tenants::delete_secret(self, tenant, id).await
    }

    async fn rotate_secret(
        &self,
        tenant: &str,
        old_id: &str,
        new: &ApiSecret,
        retires_at: i64,
    ) -> StoreResult<(ApiSecret, ApiSecret)> {
        rotation::rotate_secret(self, tenant, old_id, new, retires_at).await
    }

    async fn retire_secrets(&self, now_ms: i64) -> StoreResult<Vec<ApiSecret>> {
        rotation::retire_secrets(self, now_ms).await
    }

    async fn prune_deliveries(&self, before_ms: i64, limit: u64) -> StoreResult<u64> {
        retention::prune_deliveries(self, before_ms, limit).await
    }

    async fn create_subscription(&self, s: &Subscription) -> StoreResult<(Subscription, bool)> {
        subscriptions::create_subscription(self, s).await
    }

    async fn delete_subscription(
        &self,
        tenant: &str,
        id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Subscription>> {
        self.retrying("delete_subscription", || {
            subscriptions::delete_subscription(self, tenant, id, now_ms)
        })
        .await
    }

    async fn set_subscription_enabled(
        &self,
        tenant: &str,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Subscription> {
        // Pausing or resuming rewrites the subscription's pending deliveries, which a
        // dispatcher may be claiming at that moment (a deadlock PostgreSQL breaks): run again.
        self.retrying("set_subscription_enabled", || {
            subscriptions::set_subscription_enabled(self, tenant, id, enabled, reason, now_ms)
        })
        .await
    }

    async fn disable_failing_subscriptions(
        &self,
        failing_before_ms: i64,
        now_ms: i64,
    ) -> StoreResult<Vec<Subscription>> {
        subscriptions::disable_failing_subscriptions(self, failing_before_ms, now_ms).await
    }

    async fn register_token(&self, r: &TokenRecord) -> StoreResult<TokenRecord> {
        tokens::register_token(self, r).await
    }

    async fn save_token(
        &self,
        record: &TokenRecord,
        entry: Option<NewEntry>,
        now_ms: i64,
    ) -> StoreResult<(TokenRecord, Option<TimelineEntry>)> {
        self.retrying("save_token", || {
            tokens::save_token(self, record, entry.clone(), now_ms)
        })
        .await
    }

    async fn halve_batch_size(&self, token: &str) -> StoreResult<TokenRecord> {
        tokens::halve_batch_size(self, token).await
    }

    async fn describe_token(
        &self,
        token: &str,
        integration_type: Option<&str>,
        domain: Option<&str>,
    ) -> StoreResult<TokenRecord> {
        tokens::describe_token(self, token, integration_type, domain).await
    }

    async fn revoke_token(&self, token: &str) -> StoreResult<TokenRecord> {
        tokens::revoke_token(self, token).await
    }

    async fn restart_upload(&self, record: &TokenRecord) -> StoreResult<TokenRecord> {
        self.retrying("restart_upload", || tokens::restart_upload(self, record))
            .await
    }

    async fn delete_expired_pending(&self, created_before: i64) -> StoreResult<u64> {
        tokens::delete_expired_pending(self, created_before).await
    }

    async fn trim_pending_tokens(
        &self,
        from: &str,
        per_address: u64,
        overall: Option<u64>,
    ) -> StoreResult<Vec<String>> {
        tokens::trim_pending_tokens(self, from, per_address, overall).await
    }

    async fn apply(&self, tenant: &str, change: Change, now_ms: i64) -> StoreResult<Applied> {
        self.retrying("apply", || async {
            let mut tx = self.pool.begin().await?;
            let applied = apply::apply_in(&mut tx, tenant, change.clone(), now_ms).await?;
            tx.commit().await?;
            Ok(applied)
        })
        .await
    }

    async fn upload(&self, batch: UploadBatch, now_ms: i64) -> StoreResult<UploadOutcome> {
        let prepared = rules::upload::prepare_upload(&batch.comments, &batch.tenant_id, now_ms)?;
        let (mut outcome, late_keys) = self
            .retrying("upload", || {
                let mut prepared = prepared.clone();
                let batch = &batch;
                async move { upload::upload(self, batch, &mut prepared, now_ms).await }
            })
            .await?;
        let (entries, deliveries) = self
            .retrying("upload links", || {
                upload::link_late(self, &batch.tenant_id, &batch.token, &late_keys, now_ms)
            })
            .await?;
        outcome.entries.extend(entries);
        outcome.deliveries += deliveries;
        Ok(outcome)
    }

    async fn set_local_ids(&self, tenant: &str, mappings: &[CommentIdMapping]) -> StoreResult<u64> {
        self.retrying("set_local_ids", || {
            comments::set_local_ids(self, tenant, mappings)
        })
        .await
    }

    async fn prune_timeline(&self, before_ms: i64) -> StoreResult<u64> {
        timeline::prune_timeline(self, before_ms).await
    }

    async fn put_webhook_config(
        &self,
        tenant: &str,
        config: &WebhookConfig,
        now_ms: i64,
    ) -> StoreResult<()> {
        webhooks::put_webhook_config(self, tenant, config, now_ms).await
    }

    async fn due_deliveries(&self, q: &DueQuery<'_>) -> StoreResult<Vec<Delivery>> {
        webhooks::due_deliveries(self, q).await
    }

    async fn release_claims(&self, ids: &[String]) -> StoreResult<()> {
        webhooks::release_claims(self, ids).await
    }

    async fn record_attempts(&self, outcomes: &[AttemptOutcome], now_ms: i64) -> StoreResult<()> {
        webhooks::record_attempts(self, outcomes, now_ms).await
    }

    async fn cancel_delivery(&self, tenant: &str, id: &str, now_ms: i64) -> StoreResult<Delivery> {
        webhooks::cancel_delivery(self, tenant, id, now_ms).await
    }

    async fn retry_delivery(
        &self,
        tenant: &str,
        id: &str,
        now_ms: i64,
        extra_attempts: i64,
    ) -> StoreResult<Delivery> {
        webhooks::retry_delivery(self, tenant, id, now_ms, extra_attempts).await
    }

    async fn retry_failed_since(
        &self,
        tenant: &str,
        since_ms: i64,
        now_ms: i64,
        extra_attempts: i64,
    ) -> StoreResult<u64> {
        listing::retry_failed_since(self, tenant, since_ms, now_ms, extra_attempts).await
    }
}
