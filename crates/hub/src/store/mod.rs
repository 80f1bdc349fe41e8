//! Persistence behind one trait, [`Store`], so the SQLite default and a PostgreSQL backend for
//! several hub nodes pass the same conformance suite.
//!
//! The store owns every *atomic* step: a comment change, its timeline entry (and, later, its
//! webhook outbox rows) commit together or not at all. Business rules that need no transaction
//! (validation, rendering) live in [`crate::rules`]; rules that must read and write inside one
//! transaction (upload upserts, vote counts) are expressed as pure functions there too and
//! called by each backend inside its transaction, so the backends cannot drift apart.
//!
//! Nothing above this module may assume SQLite: no rowids, no single-writer ordering. Timeline
//! order is `(tenant, created_at)`, with `created_at` drawn from the per-tenant clock row inside
//! the writing transaction (SPEC §1.2), which also serialises one tenant's commits.
//!
//! The queries both backends run alike are written once, in `portable/`, and compiled inside
//! each backend against its `dialect.rs` (its types, pools, placeholders and the few words of
//! SQL that differ); a backend's own files hold only what differs for a reason: the timeline
//! clock, uploads, comment upserts, delivery claims and attempt records, retention,
//! migrations, PostgreSQL's notifications and SQLite's writer thread.

pub mod postgres;
mod rows;
pub mod sqlite;

use crate::ids::TenantId;
use crate::records::{
    ApiSecret, Applied, AttemptOutcome, Change, CommentsQuery, Delivery, DeliveryAttempt,
    DeliveryCounts, DeliveryFilter, DeliveryStatus, DueQuery, EntryKind, ImportRecord,
    IntegrationToken, NewEntry, Notice, Page, PageChange, Recovery, SecretRetirement,
    SessionRecord, Subscription, Tenant, TimelineBounds, TimelineEntry, TimelineQuery, TokenRecord,
    TokenState, UploadBatch, UploadOutcome, WebhookConfig, WebhookStats,
};
use std::collections::HashMap;

use async_trait::async_trait;
use fastcomments_protocol::{Comment, CommentIdMapping, Millis, Vote};

/// What queuing a change's webhooks did (inside a backend's transaction).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Enqueued {
    /// Deliveries queued.
    pub(crate) deliveries: usize,
    /// Changes that matched no configuration of a tenant that has some.
    pub(crate) unmatched: usize,
}

/// Why a store call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The named object does not exist (or is not the caller tenant's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change contradicts what is stored.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input cannot be stored as given.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed: what failed, and the driver's error when there was one (kept for
    /// `Error::source` chains; the message already holds its text).
    #[error("database: {message}")]
    Database {
        /// What failed.
        message: String,
        /// The driver's (or the JSON parser's) own error.
        #[source]
        source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// The database gave up the transaction for a concurrent one (a deadlock, a serialisation
    /// failure, or a lost race to insert the same key); running it again may succeed.
    #[error("contended: {0}")]
    Contended(String),
    /// The storage could not take the call at all: the disk is full, an I/O error, the database
    /// is locked by another process or cannot be reached. Nothing of the call was committed;
    /// the same call may succeed later (issue 19: never answered as a success).
    #[error("storage unavailable ({}): {detail}", kind.as_str())]
    Unavailable {
        /// What kind of failure.
        kind: FaultKind,
        /// The database's own words (logged, never sent to a client).
        detail: String,
    },
}

/// Why the storage could not take a call ([`StoreError::Unavailable`]), as `/metrics` and
/// `/readyz` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// No space left on the device (SQLite `SQLITE_FULL`, PostgreSQL `53100 disk_full`).
    Full,
    /// The device failed a read or write (SQLite `SQLITE_IOERR`, PostgreSQL class `58`).
    Io,
    /// Another process holds the database's lock for longer than the busy timeout, or memory
    /// ran out.
    Busy,
    /// The database cannot be reached (PostgreSQL down or restarting, a connection lost, the
    /// pool gave up waiting), so whether an in-flight commit happened is unknown.
    Unreachable,
}

impl FaultKind {
    /// Every kind, in the order `/metrics` lists them.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::Full,
        FaultKind::Io,
        FaultKind::Busy,
        FaultKind::Unreachable,
    ];

    /// The label `/metrics` and `/readyz` use.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Full => "disk-full",
            FaultKind::Io => "io-error",
            FaultKind::Busy => "busy",
            FaultKind::Unreachable => "unreachable",
        }
    }

    /// The kind of a SQLite result code (primary or extended), if it is a storage fault.
    pub fn of_sqlite_code(code: i32) -> Option<FaultKind> {
        match code & 0xff {
            13 => Some(FaultKind::Full),              // SQLITE_FULL
            10 | 14 | 11 | 26 => Some(FaultKind::Io), // IOERR, CANTOPEN, CORRUPT, NOTADB
            5..=8 => Some(FaultKind::Busy),           // BUSY, LOCKED, NOMEM, READONLY
            _ => None,
        }
    }

    /// The kind of a PostgreSQL SQLSTATE, if it is a storage fault.
    pub fn of_sqlstate(code: &str) -> Option<FaultKind> {
        match code {
            "53100" => Some(FaultKind::Full),
            c if c.starts_with("58") || c == "XX001" || c == "XX002" => Some(FaultKind::Io),
            c if c.starts_with("53") => Some(FaultKind::Busy),
            c if c.starts_with("08") || c.starts_with("57P") => Some(FaultKind::Unreachable),
            _ => None,
        }
    }
}

/// How many storage faults this process met, by kind (`/metrics`:
/// `fastcomments_storage_failures_total{kind}`). Counted where the error is classified, so
/// every path counts: request handlers, the writer, the dispatcher, maintenance.
static FAULTS: [std::sync::atomic::AtomicU64; 4] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

/// Full-disk faults met so far by this process.
pub(crate) fn full_faults() -> u64 {
    FAULTS[FaultKind::Full as usize].load(std::sync::atomic::Ordering::SeqCst)
}

/// Storage faults met so far by this process, by kind, in [`FaultKind::ALL`]'s order.
pub fn faults_seen() -> [(FaultKind, u64); 4] {
    FaultKind::ALL.map(|k| {
        (
            k,
            FAULTS[k as usize].load(std::sync::atomic::Ordering::Relaxed),
        )
    })
}

impl StoreError {
    /// A storage fault of `kind` (counted).
    pub fn unavailable(kind: FaultKind, detail: impl Into<String>) -> StoreError {
        FAULTS[kind as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        StoreError::Unavailable {
            kind,
            detail: detail.into(),
        }
    }

    /// A database failure the store itself found (no driver error behind it).
    pub fn database(message: impl Into<String>) -> StoreError {
        StoreError::Database {
            message: message.into(),
            source: None,
        }
    }

    /// A database failure with the error that caused it.
    pub fn caused_by(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Database {
            message: message.into(),
            source: Some(std::sync::Arc::new(source)),
        }
    }

    /// The fault's kind, when this is one.
    pub fn fault(&self) -> Option<FaultKind> {
        match self {
            StoreError::Unavailable { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        // PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected; a unique
        // violation on the plugin-id index is two uploads inserting the same new comment.
        if let Some(db) = e.as_database_error() {
            let code = db.code();
            let contended = matches!(code.as_deref(), Some("40001" | "40P01"))
                || (code.as_deref() == Some("23505")
                    && db.constraint() == Some("comments_by_external"));
            if contended {
                return StoreError::Contended(e.to_string());
            }
            // PostgreSQL ended the session (FATAL or PANIC): the server crashed, was shut down,
            // or could not set up a new connection (on a full disk: "could not write init
            // file", SQLSTATE XX000). The connection is gone and a COMMIT in flight may or may
            // not have happened, so whatever the SQLSTATE (a PANIC on a full WAL disk says
            // 53100) this is "unreachable": `503`, never `500`, and never `507`'s "nothing was
            // stored".
            let session_ended = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|pg| {
                    matches!(
                        pg.severity(),
                        sqlx::postgres::PgSeverity::Fatal | sqlx::postgres::PgSeverity::Panic
                    )
                });
            if session_ended {
                return StoreError::unavailable(FaultKind::Unreachable, e.to_string());
            }
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            let fault = code.as_deref().and_then(|c| {
                if sqlite {
                    c.parse::<i32>().ok().and_then(FaultKind::of_sqlite_code)
                } else {
                    FaultKind::of_sqlstate(c)
                }
            });
            if let Some(kind) = fault {
                return StoreError::unavailable(kind, e.to_string());
            }
        }
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => {
                StoreError::unavailable(FaultKind::Unreachable, e.to_string())
            }
            e => StoreError::caused_by(e.to_string(), e),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        if let Some(code) = e.sqlite_error() {
            if let Some(kind) = FaultKind::of_sqlite_code(code.extended_code) {
                return StoreError::unavailable(kind, e.to_string());
            }
        }
        StoreError::caused_by(e.to_string(), e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> StoreError {
        StoreError::caused_by(format!("stored JSON is corrupt: {e}"), e)
    }
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// What may be read of the store without the hub: nothing here changes what a cache holds.
/// Every method is one transaction.
#[async_trait]
pub trait StoreReads: Send + Sync + 'static {
    /// While writes are failing for a storage fault (a full disk, an I/O error), the error of
    /// the last one; `None` while they commit. A backend whose failures show in every query
    /// (PostgreSQL down) answers `None` and leaves it to `/readyz`'s query.
    fn write_fault(&self) -> Option<StoreError> {
        None
    }
    /// A tenant by id.
    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    /// The API secret record holding this secret text, if any.
    async fn secret_by_value(&self, secret: &str) -> StoreResult<Option<ApiSecret>>;
    /// A tenant's secrets.
    async fn list_secrets(&self, tenant: &TenantId) -> StoreResult<Vec<ApiSecret>>;
    /// A tenant's secrets being retired, soonest first.
    async fn secret_retirements(&self, tenant: &TenantId) -> StoreResult<Vec<SecretRetirement>>;

    // --- integration tokens ---

    /// A token's record.
    async fn token(&self, token: &IntegrationToken) -> StoreResult<Option<TokenRecord>>;
    /// A tenant's tokens.
    async fn list_tokens(&self, tenant: &TenantId) -> StoreResult<Vec<TokenRecord>>;

    // --- comments and votes ---

    /// A comment of the tenant.
    async fn comment(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Comment>>;
    /// The tenant's comment the site knows as `external_id`.
    async fn comment_by_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
    ) -> StoreResult<Option<Comment>>;
    /// A thread's comments, oldest first.
    async fn comments_by_url(&self, tenant: &TenantId, url_id: &str) -> StoreResult<Vec<Comment>>;
    /// The tenant's comments after `(date, id)` (from the first without it), by `(date, id)`,
    /// at most `limit`: a walk over every comment that costs what it reads.
    async fn comments_after(
        &self,
        tenant: &TenantId,
        after: Option<(Millis, &str)>,
        limit: u64,
    ) -> StoreResult<Vec<Comment>>;
    /// The tenant's comments after `(url_id, date, id)` (from the first without it), thread by
    /// thread (by `url_id`) and by `(date, id)` within one, at most `limit`: a walk that meets
    /// each thread's comments together (the WXR export writes one item per thread).
    async fn comments_by_thread_after(
        &self,
        tenant: &TenantId,
        after: Option<(&str, Millis, &str)>,
        limit: u64,
    ) -> StoreResult<Vec<Comment>>;
    /// All the tenant's comments by `(date, id)`, `skip` then at most `limit`.
    async fn comments_page(
        &self,
        tenant: &TenantId,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Comment>>;
    /// One page of a thread's comments, or of the whole tenant's, by `(date, id)` in the
    /// direction asked (issue 20 §6: every list is paged).
    async fn list_comments(
        &self,
        tenant: &TenantId,
        q: &CommentsQuery<'_>,
    ) -> StoreResult<Vec<Comment>>;
    /// How many comments the tenant has.
    async fn count_comments(&self, tenant: &TenantId) -> StoreResult<u64>;
    /// How many of the tenant's comments someone flagged.
    async fn count_flagged(&self, tenant: &TenantId) -> StoreResult<u64>;
    /// A vote of the tenant.
    async fn vote(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Vote>>;
    /// The votes on thread `url_id`'s comments, oldest first, at most `limit`; only `voter`'s
    /// when given (a user id, or `anon:` and an anonymous id).
    async fn thread_votes(
        &self,
        tenant: &TenantId,
        url_id: &str,
        voter: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Vote>>;
    /// The tenant's imports, newest first, at most `limit`.
    async fn imports(&self, tenant: &TenantId, limit: u64) -> StoreResult<Vec<ImportRecord>>;
    /// The tenant's import `id`.
    async fn import(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ImportRecord>>;
    /// The tenant's pages, oldest first, at most `limit`, with their comments counted.
    async fn pages(&self, tenant: &TenantId, limit: u64) -> StoreResult<Vec<Page>>;
    /// The tenant's page `id`.
    async fn page(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Page>>;
    /// The tenant's page of thread `url_id`.
    async fn page_by_url_id(&self, tenant: &TenantId, url_id: &str) -> StoreResult<Option<Page>>;
    /// How many flaggers flagged each of the comments `ids` (unflagged ones left out).
    async fn flag_counts(
        &self,
        tenant: &TenantId,
        ids: &[&str],
    ) -> StoreResult<HashMap<String, u64>>;

    // --- the timeline ---

    /// Entries visible to the query's reader, ascending.
    async fn read_timeline(&self, query: &TimelineQuery) -> StoreResult<Vec<TimelineEntry>>;
    /// How many entries after the cursor are visible to the reader (at most `cap`).
    async fn count_timeline(&self, query: &TimelineQuery, cap: u64) -> StoreResult<u64>;
    /// The tenant's newest position and how far the timeline was pruned.
    async fn timeline_bounds(&self, tenant: &TenantId) -> StoreResult<TimelineBounds>;

    // --- webhooks (SPEC §2) ---

    /// A tenant's webhook configurations.
    async fn webhook_configs(&self, tenant: &TenantId) -> StoreResult<Vec<WebhookConfig>>;
    /// When the earliest ready pending delivery due strictly after `after` is due. Claims do
    /// not count: one that ends without a record is found by the dispatcher's next look.
    async fn next_due_at(&self, after: Millis) -> StoreResult<Option<Millis>>;
    /// Totals of the outbox, for `/metrics`.
    async fn webhook_stats(&self) -> StoreResult<WebhookStats>;
    /// A tenant's subscriptions, oldest first.
    async fn subscriptions(&self, tenant: &TenantId) -> StoreResult<Vec<Subscription>>;
    /// A tenant's deliveries, newest first.
    async fn deliveries(
        &self,
        tenant: &TenantId,
        status: Option<DeliveryStatus>,
        comment_id: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Delivery>>;
    /// One delivery with its attempts.
    async fn delivery(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>>;

    /// Every tenant, by name (the operator's list).
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// A tenant's deliveries matching `filter`, newest first, paged.
    async fn find_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter<'_>,
    ) -> StoreResult<Vec<Delivery>>;
    /// How many of a tenant's deliveries match `filter` (its paging ignored).
    async fn count_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter<'_>,
    ) -> StoreResult<u64>;
    /// How many of a tenant's deliveries are in each state: every state exactly but sent,
    /// the sent ones up to `sent_up_to` (more than that counted as `sent_up_to + 1`). The
    /// store keeps a tenant's sent deliveries for the retention period (30 days by default),
    /// and the admin page asks every 2 s.
    async fn delivery_counts(
        &self,
        tenant: &TenantId,
        sent_up_to: u64,
    ) -> StoreResult<DeliveryCounts>;
}

/// The admin pages' sessions (no cache above them: the pages read and write them directly).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a session (a new one, or replaces it by id). Storing an anonymous one also drops
    /// the anonymous sessions past the newest `keep_anonymous`, so visits that never sign in
    /// cannot fill the database.
    async fn save_session(&self, s: &SessionRecord, keep_anonymous: u64) -> StoreResult<()>;
    /// The session with this id.
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    /// Marks a session used at `seen_at`.
    async fn touch_session(&self, id: &str, seen_at: Millis) -> StoreResult<()>;
    /// Ends a session.
    async fn delete_session(&self, id: &str) -> StoreResult<()>;
    /// Ends every session last used before `seen_before` or created before `created_before`.
    async fn delete_expired_sessions(
        &self,
        seen_before: Millis,
        created_before: Millis,
    ) -> StoreResult<u64>;
}

/// The hub's persistence: the reads, the sessions, and every write. Every method is one
/// transaction. Above the store only [`crate::hub::Hub`] holds it whole, so a write whose result
/// a cache holds cannot bypass the cache; everything else gets [`StoreReads`] or
/// [`SessionStore`].
#[async_trait]
pub trait Store: StoreReads + SessionStore {
    /// Claims the database for the hub about to serve it, before it takes requests. A backend
    /// whose database one hub process at a time may serve (SQLite: one writer, and the hub's
    /// in-memory caches and webhook dispatcher assume they see every write) refuses a second
    /// claim while the first holder lives, with [`StoreError::Conflict`]; backends meant for
    /// several hub nodes accept every claim. Claiming again from the same store is a no-op.
    fn claim_for_serving(&self) -> StoreResult<()> {
        Ok(())
    }

    /// What other hub nodes sharing this database committed, as it happens (a backend for
    /// several nodes; `None` for one that one hub serves alone). The hub raises its caches and
    /// wakes its dispatcher on these, and keeps a short cache lifetime as the fallback for
    /// notices lost with a dropped connection ([`Notice::Lost`]).
    fn notices(&self) -> Option<tokio::sync::broadcast::Receiver<Notice>> {
        None
    }

    /// Commits a write that changes nothing the hub reads: `Ok` when a commit can happen now.
    /// `/readyz` asks while [`Store::write_fault`] says writes fail, so readiness comes back
    /// with the disk space, whether or not clients write meanwhile.
    async fn probe_write(&self) -> StoreResult<()>;

    // --- tenants and API secrets ---

    /// Creates a tenant with its domains and its wildcard secret.
    async fn create_tenant(&self, tenant: &Tenant, wildcard: &ApiSecret) -> StoreResult<()>;
    /// Adds a secret.
    async fn add_secret(&self, secret: &ApiSecret) -> StoreResult<()>;
    /// Removes a secret; `false` when the tenant has none with that id.
    async fn delete_secret(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ApiSecret>>;

    /// Starts a rotation: adds `new` (its domain is set to the old secret's) and schedules
    /// the secret `old_id` for removal at `retires_at`, in one transaction. Until then both
    /// authenticate and sign. Returns the old secret and the new one as stored.
    /// [`StoreError::NotFound`] if the tenant has no such secret, [`StoreError::Conflict`] if
    /// it is already being retired.
    async fn rotate_secret(
        &self,
        tenant: &TenantId,
        old_id: &str,
        new: &ApiSecret,
        retires_at: Millis,
    ) -> StoreResult<(ApiSecret, ApiSecret)>;
    /// Removes every secret whose retirement is due at `now`; returns them.
    async fn retire_secrets(&self, now: Millis) -> StoreResult<Vec<ApiSecret>>;
    /// Inserts a pending token, or returns the record already stored under that token.
    async fn register_token(&self, record: &TokenRecord) -> StoreResult<TokenRecord>;
    /// Replaces a token's record; with `entry`, appends it to the record's tenant timeline in
    /// the same transaction (the `SetSetupCompleted` entry), stamping its position into
    /// `setup_completed_at`.
    async fn save_token(
        &self,
        record: &TokenRecord,
        entry: Option<NewEntry>,
        now: Millis,
    ) -> StoreResult<(TokenRecord, Option<TimelineEntry>)>;
    /// Halves the token's upload batch size (not below 1) after a 413, touching nothing else,
    /// so a concurrent upload's progress is never overwritten.
    async fn halve_batch_size(&self, token: &IntegrationToken) -> StoreResult<TokenRecord>;
    /// Fills in a token's integration type and domain where they are still unknown (a token
    /// acknowledged before the plugin's first call), touching nothing else.
    async fn describe_token(
        &self,
        token: &IntegrationToken,
        integration_type: Option<&str>,
        domain: Option<&str>,
    ) -> StoreResult<TokenRecord>;
    /// Revokes a token, touching nothing else.
    async fn revoke_token(&self, token: &IntegrationToken) -> StoreResult<TokenRecord>;
    /// Starts a token's upload over (a re-sync): progress to zero, setup not completed, and
    /// the token forgets which comments it uploaded, so `start` counts from 0 again.
    async fn restart_upload(&self, record: &TokenRecord) -> StoreResult<TokenRecord>;
    /// Deletes pending tokens registered before `created_before`.
    async fn delete_expired_pending(&self, created_before: Millis) -> StoreResult<u64>;
    /// Keeps at most `per_address` pending tokens registered from `from` and, when `overall`
    /// is given, at most that many pending tokens in all, removing the oldest first (issue 20
    /// §3: anonymous registrations cannot fill the disk). Returns the tokens removed.
    async fn trim_pending_tokens(
        &self,
        from: &str,
        per_address: u64,
        overall: Option<u64>,
    ) -> StoreResult<Vec<IntegrationToken>>;
    /// Stores (or replaces) an import's record.
    async fn save_import(&self, record: &ImportRecord) -> StoreResult<()>;
    /// Stores a new import's record unless another import of its tenant runs (one whose record
    /// changed at or after `fresh_since`): then that one, and nothing is stored. Atomic across
    /// nodes, so two imports started at once cannot both run.
    async fn start_import(
        &self,
        record: &ImportRecord,
        fresh_since: Millis,
    ) -> StoreResult<Option<ImportRecord>>;
    /// Adds a page ([`StoreError::Conflict`] when its thread has one).
    async fn add_page(&self, page: &Page) -> StoreResult<()>;
    /// Changes a page's title, URL or mark; `false` when the tenant has no such page.
    async fn change_page(
        &self,
        tenant: &TenantId,
        id: &str,
        change: &PageChange,
    ) -> StoreResult<bool>;
    /// Flags (or un-flags) a comment for one flagger: its flag count after, or `None` when
    /// the tenant has no such comment. Idempotent per flagger.
    async fn set_flag(
        &self,
        tenant: &TenantId,
        id: &str,
        flagger: &str,
        flagged: bool,
        now: Millis,
    ) -> StoreResult<Option<u64>>;
    /// Applies one API change with its timeline entries, atomically.
    async fn apply(&self, tenant: &TenantId, change: Change, now: Millis) -> StoreResult<Applied>;
    /// Upserts an upload batch from `token` (SPEC §1.4), atomically with its timeline entries
    /// and the token's progress.
    async fn upload(&self, batch: UploadBatch, now: Millis) -> StoreResult<UploadOutcome>;
    /// Stores plugin-local ids in `meta.wpId`; returns how many comments were found.
    async fn set_local_ids(
        &self,
        tenant: &TenantId,
        mappings: &[CommentIdMapping],
    ) -> StoreResult<u64>;
    /// Deletes entries older than `before` in every tenant; returns how many.
    async fn prune_timeline(&self, before: Millis) -> StoreResult<u64>;
    /// Creates or replaces the configuration of `config.domain`.
    async fn put_webhook_config(
        &self,
        tenant: &TenantId,
        config: &WebhookConfig,
        now: Millis,
    ) -> StoreResult<()>;
    /// Hands this hub due deliveries to send: pending, due at `q.now`, whose comment has no
    /// earlier pending delivery, in due order, at most `q.limit` in all and `q.per_host` per
    /// [`Delivery::target_host`], leaving out the ids in `q.exclude` (those in flight here) and
    /// the deliveries to `q.skip_hosts` and of `q.skip_tenants` (those at their in-flight
    /// limit), so that a host with a long backlog neither fills the answer nor has to be read
    /// past. What it hands out is claimed for `q.lease_ms`: no dispatcher (of this node or
    /// another sharing the store) gets it again until its attempt is recorded or the claim
    /// runs out (its sender died).
    async fn due_deliveries(&self, q: &DueQuery<'_>) -> StoreResult<Vec<Delivery>>;
    /// Gives back claims this hub took but will not use now (the dispatcher had no room
    /// left for them): they are due again at once, for any dispatcher.
    async fn release_claims(&self, ids: &[String]) -> StoreResult<()>;
    /// Logs attempts and moves their deliveries on — unless a delivery was cancelled meanwhile
    /// — and notes each subscription's health (a 2xx ends its failing streak). Whether a
    /// delivery became ready by it (the next one of a stream whose head ended).
    async fn record_attempts(&self, outcomes: &[AttemptOutcome], now: Millis) -> StoreResult<bool>;
    /// Removes at most `limit` succeeded or cancelled deliveries last changed before
    /// `before`, with their attempts, in one short transaction; returns how many. The
    /// caller repeats it until it returns less than `limit`, so retention never holds the
    /// writer for long.
    async fn prune_deliveries(&self, before: Millis, limit: u64) -> StoreResult<u64>;
    /// Creates a subscription, unless the tenant has one of the same form (URL, method,
    /// kinds, domains, imports): then that one, and `false`. [`StoreError::Conflict`] when
    /// the tenant has [`MAX_SUBSCRIPTIONS`](crate::records::MAX_SUBSCRIPTIONS) already.
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<(Subscription, bool)>;
    /// Removes a subscription and cancels its waiting deliveries; `None` if there is none.
    async fn delete_subscription(
        &self,
        tenant: &TenantId,
        id: &str,
        now: Millis,
    ) -> StoreResult<Option<Subscription>>;
    /// Disables a subscription (its waiting deliveries become `paused`, new ones are queued
    /// paused) or enables it (paused ones are due again at `now`, in their order).
    async fn set_subscription_enabled(
        &self,
        tenant: &TenantId,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<Subscription>;
    /// Disables every enabled subscription whose attempts have all failed since
    /// `failing_before` or earlier (see [`Subscription::failing_since`], kept up to date by
    /// [`Store::record_attempts`]); returns them.
    async fn disable_failing_subscriptions(
        &self,
        failing_before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<Subscription>>;
    /// Cancels a queued or retrying delivery.
    async fn cancel_delivery(
        &self,
        tenant: &TenantId,
        id: &str,
        now: Millis,
    ) -> StoreResult<Delivery>;
    /// Queues a failed or cancelled delivery again, with `extra_attempts` more attempts.
    async fn retry_delivery(
        &self,
        tenant: &TenantId,
        id: &str,
        now: Millis,
        extra_attempts: i64,
    ) -> StoreResult<Delivery>;
    /// Starts recover `r` (issue 23 §3), held by the caller until `lease_until`;
    /// [`StoreError::Conflict`] while another recover of the same target runs: its queuing
    /// holds a lease that has not run out, or copies it queued still wait (queued, retrying
    /// or paused).
    async fn begin_recovery(
        &self,
        r: &Recovery,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<()>;
    /// Queues the next page of recover `r` in one transaction: a copy of each of the next
    /// `limit` deliveries (not copies themselves) its target was sent with positions in `since..=until`, by
    /// (position, id), past its cursor (a new delivery to where the target points now,
    /// naming the one it copies in `recovered_from`, at its position in its stream: each
    /// stream's head stays the earliest waiting delivery); moves the cursor past them and
    /// holds the recover until `lease_until`. Returns the recover as it is after the page,
    /// `finished_at` set once the range is done. A recover that is no longer its target's
    /// queues nothing and comes back finished.
    async fn recover_page(
        &self,
        r: &Recovery,
        limit: u64,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Recovery>;
    /// Queues again every failed delivery of the tenant that failed (last changed) at or after
    /// `since`, each with `extra_attempts` more attempts, due at `now`; returns how many.
    async fn retry_failed_since(
        &self,
        tenant: &TenantId,
        since: Millis,
        now: Millis,
        extra_attempts: i64,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::StoreError;
    use std::error::Error;

    /// A database error keeps the error behind it, so a log or a caller can walk the chain.
    #[test]
    fn a_database_error_keeps_its_source() {
        let parse = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let e = StoreError::from(parse);
        let source = e.source().expect("the JSON error is kept");
        assert!(source.to_string().contains("EOF"), "{source}");
        assert!(
            e.to_string()
                .starts_with("database: stored JSON is corrupt"),
            "{e}"
        );
        assert!(StoreError::database("no source").source().is_none());
    }
}
