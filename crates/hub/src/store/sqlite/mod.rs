//! The embedded default backend: one SQLite file in WAL mode, one writer connection (SQLite
//! allows one writer at a time anyway; a single connection makes that explicit and keeps
//! write transactions from waiting on locks) and a pool of readers.

use super::*;
use crate::clock::next_position;
use crate::ids;
use crate::rules;
use crate::rules::upload::{Prepared, StoredComment};
use fastcomments_protocol::WebhookEventKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

mod comments;
mod dialect;
mod handle;
mod lock;
mod migrate;
mod retention;
#[cfg(test)]
mod tests;
mod timeline;
mod tokens;
mod upload;
mod webhooks;
mod writer;

// The queries both backends run alike: one source, compiled here against this backend's
// `dialect` (and in the other backend against its own; see `portable/mod.rs`).
#[path = "../portable/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose, against each one's own types"
)]
mod portable;
use portable::{apply, listing, rotation, sessions, stats, subscriptions, tenants};

use super::rows::*;
use apply::*;
use comments::*;
use handle::*;
use migrate::*;
use timeline::*;
use tokens::*;
use upload::*;
use webhooks::*;
use writer::*;

/// Most bound values one statement carries (SQLite allows 32,766).
const MAX_PARAMS: usize = 30_000;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    writes: mpsc::Sender<PendingWrite>,
    /// Whether the writer's last group committed.
    health: WriteHealth,
    /// The database file (`None` for an in-memory database).
    path: Option<PathBuf>,
    /// The open lock file while this store is claimed for serving (see
    /// [`Store::claim_for_serving`]); the OS releases the lock when the process ends.
    serving_lock: Arc<parking_lot::Mutex<Option<std::fs::File>>>,
}

fn writer_stopped() -> StoreError {
    StoreError::Database("the SQLite writer has stopped".into())
}

impl SqliteStore {
    /// Hands a write to the group-commit writer.
    async fn queue_write(&self, write: PendingWrite) -> StoreResult<()> {
        self.writes.send(write).await.map_err(|_| writer_stopped())
    }

    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Database(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        Self::with_options(Self::file_options(path)).await
    }

    /// How [`SqliteStore::open`] opens the file at `path`.
    fn file_options(path: &Path) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false)
    }

    /// Opens a `sqlite://…` URL.
    pub async fn open_url(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        Self::with_options(options).await
    }

    async fn with_options(options: SqliteConnectOptions) -> StoreResult<SqliteStore> {
        // In-memory databases (and `file:` URIs) get no serving lock.
        let name = options.get_filename();
        let path = (!name.as_os_str().is_empty()
            && name != Path::new(":memory:")
            && !name.to_string_lossy().starts_with("file:"))
        .then(|| name.to_path_buf());
        // The writer gets a 64 MiB page cache, in-memory statement journals and a checkpoint
        // every 65,536 WAL pages (256 MiB) instead of SQLite's 1,000: index leaves that many
        // commits rewrite go back to the database file once per checkpoint, not once per few
        // commits (1M-comment upload, four A/B pairs against 16,384 pages: +3 to +14 %). The
        // WAL file keeps that size on disk, and opening after a crash reads it back. The
        // readers keep SQLite's defaults.
        let writer_options = options
            .clone()
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "65536");
        // A connection an error left inside a transaction is closed, not reused (see
        // `connection_is_clean`): checked when it comes back, which is after every use (a
        // dropped transaction's ROLLBACK runs first), so it is never handed out unchecked.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .after_release(|conn, _| Box::pin(async move { Ok(connection_is_clean(conn).await) }))
            .connect_with(writer_options)
            .await?;
        sqlx::raw_sql(include_str!("schema.sql"))
            .execute(&writer)
            .await?;
        // Columns added after the first schema: a database made before them gets them here.
        add_column_if_missing(&writer, "comments", "event_pos", "INTEGER").await?;
        add_column_if_missing(&writer, "timeline", "doc_ref", "TEXT").await?;
        add_column_if_missing(&writer, "webhook_deliveries", "lease_until", "INTEGER").await?;
        add_column_if_missing(
            &writer,
            "integration_tokens",
            "api_secret_allowed",
            "INTEGER NOT NULL DEFAULT 0",
        )
        .await?;
        add_column_if_missing(&writer, "integration_tokens", "registered_from", "TEXT").await?;
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS integration_tokens_pending ON integration_tokens \
             (registered_from, created_at) WHERE state = 'pending'",
        )
        .execute(&writer)
        .await?;
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS integration_tokens_pending_by_age ON integration_tokens \
             (created_at) WHERE state = 'pending'",
        )
        .execute(&writer)
        .await?;
        add_column_if_missing(
            &writer,
            "webhook_deliveries",
            "target_host",
            "TEXT NOT NULL DEFAULT ''",
        )
        .await?;
        add_column_if_missing(
            &writer,
            "webhook_deliveries",
            "subscription_id",
            "TEXT NOT NULL DEFAULT ''",
        )
        .await?;
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_subscription ON webhook_deliveries \
             (subscription_id) WHERE subscription_id <> ''",
        )
        .execute(&writer)
        .await?;
        // After the columns exist in old databases too: the outbox query walks pending
        // deliveries by (host, subscription) through it. It replaces the per-host index of
        // earlier versions, whose prefix it has.
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_target ON webhook_deliveries \
             (target_host, subscription_id, next_attempt_at, position) \
             WHERE status IN ('queued', 'retrying')",
        )
        .execute(&writer)
        .await?;
        sqlx::query("DROP INDEX IF EXISTS webhook_deliveries_by_host")
            .execute(&writer)
            .await?;
        sqlx::raw_sql(include_str!("schema_triggers.sql"))
            .execute(&writer)
            .await?;
        run_repairs(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.read_only(true))
            .await?;
        let (writes, queue) = mpsc::channel(4096);
        let health = WriteHealth::default();
        spawn_writer(writer.clone(), health.clone(), queue)?;
        let store = SqliteStore {
            writer,
            reader,
            writes,
            health,
            path,
            serving_lock: Arc::default(),
        };
        // Claims of a hub that crashed would hold its deliveries back for a lease; a running
        // hub (beside a `tenant create`) loses nothing by this: it never hands out what it
        // has in flight (the dispatcher's `exclude`).
        webhooks::release_claims(&store).await?;
        Ok(store)
    }

    /// Closes both pools (waits for in-flight statements).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

#[async_trait]
impl StoreReads for SqliteStore {
    fn write_fault(&self) -> Option<StoreError> {
        self.health.failing().filter(|e| e.fault().is_some())
    }

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
impl SessionStore for SqliteStore {
    async fn save_session(&self, s: &SessionRecord, keep_anonymous: u64) -> StoreResult<()> {
        sessions::save_session(self, s, keep_anonymous).await
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
impl Store for SqliteStore {
    /// Takes an exclusive advisory lock on `<db>-serving.lock` and writes this process's id
    /// into it. A second `serve` of the same file gets a conflict naming the holder's pid.
    fn claim_for_serving(&self) -> StoreResult<()> {
        lock::claim_for_serving(self)
    }

    async fn probe_write(&self) -> StoreResult<()> {
        writer::probe_write(self).await
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
        subscriptions::delete_subscription(self, tenant, id, now_ms).await
    }

    async fn set_subscription_enabled(
        &self,
        tenant: &str,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Subscription> {
        subscriptions::set_subscription_enabled(self, tenant, id, enabled, reason, now_ms).await
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
        tokens::save_token(self, record, entry, now_ms).await
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
        tokens::restart_upload(self, record).await
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
        writer::apply(self, tenant, change, now_ms).await
    }

    async fn upload(&self, batch: UploadBatch, now_ms: i64) -> StoreResult<UploadOutcome> {
        writer::upload(self, batch, now_ms).await
    }

    async fn set_local_ids(&self, tenant: &str, mappings: &[CommentIdMapping]) -> StoreResult<u64> {
        comments::set_local_ids(self, tenant, mappings).await
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
        webhooks::release_some(self, ids).await
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
