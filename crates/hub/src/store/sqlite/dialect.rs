//! What the portable queries and trait methods (`store/portable/`, compiled once per
//! backend) need of SQLite: the store and connection types, its pools for reads and writes,
//! the few words of SQL in which it differs from PostgreSQL, and the trait methods it
//! answers its own way (the group-commit writer, the serving lock).

use super::comments::{load_comment, upsert_comments};
use super::{lock, webhooks, writer, SqliteStore};
use crate::clock::next_position;
use crate::ids::TenantId;
use crate::records::{Applied, Change, Notice, UploadBatch, UploadOutcome};
use crate::store::rows::RecoverCopy;
use crate::store::{StoreError, StoreResult};
use fastcomments_protocol::{Comment, Millis};
use sqlx::sqlite::SqliteConnection;
use sqlx::SqlitePool;
use std::borrow::Cow;
use std::future::Future;
use tokio::sync::broadcast;

/// Most bound values one statement carries (SQLite allows 32,766).
pub(super) use super::MAX_PARAMS;

pub(super) type Backend = SqliteStore;
pub(super) type Db = sqlx::Sqlite;
pub(super) type Row = sqlx::sqlite::SqliteRow;
pub(super) type Conn = SqliteConnection;

impl SqliteStore {
    /// Reads go to the pool of read-only connections.
    pub(super) fn reads(&self) -> &SqlitePool {
        &self.reader
    }

    /// Writes go to the one writer connection (SQLite takes one writer at a time anyway).
    pub(super) fn writes(&self) -> &SqlitePool {
        &self.writer
    }
}

/// The portable statement as SQLite takes it: `?` is its placeholder already.
pub(super) fn sql(text: &str) -> Cow<'_, str> {
    Cow::Borrowed(text)
}

/// A list of ids as one bound parameter, for `IN (...)`: one statement text whatever its
/// length ([`id_list`] binds it).
pub(super) const ID_LIST: &str = "SELECT value FROM json_each(?)";

/// SQLite has no lateral joins, and keeps no statistics to mislead a join (see PostgreSQL's).
pub(super) const STREAMS_BY_LATERAL: bool = false;

/// The value [`ID_LIST`] (and any `json_each(?)` list) binds: the values as a JSON array.
pub(super) fn id_list<T: serde::Serialize>(ids: &[T]) -> StoreResult<String> {
    Ok(serde_json::to_string(ids)?)
}

/// What ends a delivery's claim. Only the lease: one hub serves a SQLite file, so there is no
/// claiming node to name.
pub(super) const END_CLAIM: &str = "lease_until = NULL";

/// Runs a trait method's work as it is. PostgreSQL's calls are ended when its server stops
/// answering (`postgres/liveness.rs`); SQLite has no server that could: its calls end when the
/// file system answers, and a write the writer thread has begun is never given up halfway.
pub(super) async fn bounded<T>(
    _store: &Backend,
    call: impl std::future::Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    call.await
}

/// The larger of two values (SQLite's two-argument `MAX`; it has no `GREATEST`).
pub(super) const GREATEST: &str = "MAX";

/// The columns of a timeline read, the timeline as `t`. An entry without a payload of its own
/// (`doc_ref`) takes its comment's document.
pub(super) const READ_TIMELINE: &str =
    "SELECT t.id, t.created_at, t.kind, t.url_id, COALESCE(t.payload, c.doc) AS payload \
     FROM timeline t LEFT JOIN comments c ON t.payload IS NULL AND c.id = t.doc_ref";

/// Moves each tenant's prune mark up to the newest of its entries before `?1`.
pub(super) const MARK_PRUNED: &str =
    "UPDATE tenant_clock SET pruned_through = MAX(pruned_through, \
     (SELECT MAX(created_at) FROM timeline t WHERE t.tenant_id = tenant_clock.tenant_id AND t.created_at < ?1)) \
     WHERE EXISTS (SELECT 1 FROM timeline t WHERE t.tenant_id = tenant_clock.tenant_id AND t.created_at < ?1)";

/// Stores a session, replacing the row of the same id whole.
pub(super) const SAVE_SESSION: &str =
    "INSERT OR REPLACE INTO admin_sessions (id, doc, anonymous, created_at, seen_at) \
     VALUES (?, ?, ?, ?, ?)";

/// Drops the anonymous sessions past the newest `?` (SQLite's OFFSET needs a LIMIT: -1 is none;
/// the flag is stored as 0/1).
pub(super) const TRIM_ANONYMOUS_SESSIONS: &str =
    "DELETE FROM admin_sessions WHERE id IN (SELECT id FROM admin_sessions \
     WHERE anonymous = 1 ORDER BY seen_at DESC, id LIMIT -1 OFFSET ?)";

/// Tells other hub nodes about a commit: none share a SQLite file (the serving lock), so
/// there is nobody to tell.
pub(super) async fn announce(_conn: &mut Conn, _notice: &Notice) -> StoreResult<()> {
    Ok(())
}

/// Nothing to lock before a stream's head is decided: the one writer runs transactions one
/// at a time, so every decision sees every committed change (see PostgreSQL's).
/// As PostgreSQL's: nothing to do, the one writer runs one transaction at a time.
pub(super) async fn lock_tenant_imports(_conn: &mut Conn, _tenant: &TenantId) -> StoreResult<()> {
    Ok(())
}

pub(super) async fn lock_streams(_conn: &mut Conn, _ids: &[&str]) -> StoreResult<()> {
    Ok(())
}

/// As [`lock_streams`], for streams deliveries are about to be queued in: nothing to lock.
/// Returns the earliest waiting position of each of the tenant's `streams` that has a
/// delivery waiting, as PostgreSQL's does (read through `webhook_deliveries_by_stream`, one
/// range per comment), so the caller sets its new rows' `ready` flags from the answer.
pub(super) async fn lock_new_streams(
    conn: &mut Conn,
    tenant: &TenantId,
    streams: &[(&str, &str)],
) -> StoreResult<Vec<(String, String, i64)>> {
    let mut comments: Vec<&str> = streams.iter().map(|s| s.0).collect();
    comments.sort_unstable();
    comments.dedup();
    let mut firsts = Vec::new();
    for chunk in comments.chunks(MAX_PARAMS - 1) {
        let text = first_waiting_sql(chunk.len());
        let query = chunk
            .iter()
            .fold(sqlx::query_as(&text).bind(tenant.as_str()), |q, c| {
                q.bind(*c)
            });
        let rows: Vec<(String, String, i64)> = query.fetch_all(&mut *conn).await?;
        firsts.extend(rows);
    }
    Ok(firsts)
}

/// The earliest waiting position of each stream of `comments` comments (bound after the
/// tenant) that has a delivery waiting.
pub(super) fn first_waiting_sql(comments: usize) -> String {
    format!(
        "SELECT comment_id, subscription_id, MIN(position) FROM webhook_deliveries \
         WHERE tenant_id = ? AND status IN ('queued', 'retrying', 'paused') \
         AND comment_id IN ({}) GROUP BY comment_id, subscription_id",
        vec!["?"; comments].join(", ")
    )
}

/// Inserts a recover's copies, each with its original's tenant, comment, position, kind,
/// domains and body taken from the original's row ([`RecoverCopy`]): bodies are copied
/// inside SQLite, not read out and bound again.
pub(super) async fn insert_copies(
    conn: &mut Conn,
    copies: &[RecoverCopy<'_>],
    now: Millis,
) -> StoreResult<()> {
    for chunk in copies.chunks((MAX_PARAMS - 3) / 8) {
        let text = copies_sql(chunk.len());
        let timed = sqlx::query(&text).bind(now.0).bind(now.0).bind(now.0);
        let query = chunk.iter().fold(timed, |q, c| {
            q.bind(c.id.as_str())
                .bind(c.original)
                .bind(c.url)
                .bind(c.target_host.as_str())
                .bind(c.method.as_str())
                .bind(c.legacy_token)
                .bind(c.status.as_str())
                .bind(c.ready)
        });
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// [`insert_copies`]' statement for `rows` copies: the instant three times, then eight values
/// per copy, all plain `?` (sqlx counts plain ones apart: after `?1`, the first `?` was given
/// the first value again, and no copy matched its original). Each original is found by its
/// primary key.
pub(super) fn copies_sql(rows: usize) -> String {
    format!(
        "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, \
         config_domain, subscription_id, url, target_host, method, legacy_token, body, status, \
         attempts, max_attempts, next_attempt_at, created_at, updated_at, ready, recovered_from) \
         SELECT v.column1, o.tenant_id, o.comment_id, o.position, o.kind, o.domain, \
         o.config_domain, o.subscription_id, v.column3, v.column4, v.column5, v.column6, o.body, \
         v.column7, 0, 0, ?, ?, ?, v.column8, o.id \
         FROM (VALUES {}) AS v JOIN webhook_deliveries o ON o.id = v.column2 \
         ORDER BY o.position, o.id",
        vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ")
    )
}

/// Nothing to lock before a recover queues copies in the tenant's streams: the one writer
/// runs them and every queuing one at a time (see PostgreSQL's).
pub(super) async fn lock_tenant_queuing(_conn: &mut Conn, _tenant: &TenantId) -> StoreResult<()> {
    Ok(())
}

/// A comment of the tenant. Nothing to lock (`_lock`): the one writer runs transactions one
/// at a time.
pub(super) async fn read_comment(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    _lock: bool,
) -> StoreResult<Option<Comment>> {
    load_comment(conn, tenant, id).await
}

/// Writes one changed comment (an API change: no upload token to set).
pub(super) async fn save_comment(conn: &mut Conn, c: &Comment) -> StoreResult<()> {
    upsert_comments(conn, &[(c, None)]).await
}

impl SqliteStore {
    /// Runs `work` once: the one writer runs transactions one at a time, so none is given up
    /// for a concurrent one (PostgreSQL runs it again; see its `retrying`).
    pub(super) async fn retrying<T, F, Fut>(&self, _what: &str, mut work: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        work().await
    }
}

/// While the writer's groups fail for a storage fault, the last error.
pub(super) fn write_fault(store: &Backend) -> Option<StoreError> {
    store.health.failing().filter(|e| e.fault().is_some())
}

/// Takes an exclusive advisory lock on `<db>-serving.lock` and writes this process's id into
/// it. A second `serve` of the same file gets a conflict naming the holder's pid.
pub(super) fn claim_for_serving(store: &Backend) -> StoreResult<()> {
    lock::claim_for_serving(store)
}

/// No other node writes a SQLite file: no notices.
pub(super) fn notices(_store: &Backend) -> Option<broadcast::Receiver<Notice>> {
    None
}

/// Through the writer, like every write (see `writer::probe_write`).
pub(super) async fn probe_write(store: &Backend) -> StoreResult<()> {
    writer::probe_write(store).await
}

/// An API change goes to the group-commit writer.
pub(super) async fn apply(
    store: &Backend,
    tenant: &TenantId,
    change: Change,
    now: Millis,
) -> StoreResult<Applied> {
    writer::apply(store, tenant, change, now).await
}

/// An upload batch goes to the group-commit writer.
pub(super) async fn upload(
    store: &Backend,
    batch: UploadBatch,
    now: Millis,
) -> StoreResult<UploadOutcome> {
    writer::upload(store, batch, now).await
}

/// Gives back this hub's claims on `ids` (only the lease to clear).
pub(super) async fn release_claims(store: &Backend, ids: &[String]) -> StoreResult<()> {
    webhooks::release_some(store, ids).await
}

/// The next `count` (at least one) positions of a tenant's clock (strictly increasing, never
/// behind `now`'s past positions), and the clock moved past them.
pub(super) async fn take_positions(
    conn: &mut Conn,
    tenant: &TenantId,
    count: usize,
    now: Millis,
) -> StoreResult<Vec<i64>> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT last_ms FROM tenant_clock WHERE tenant_id = ?")
            .bind(tenant.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let mut position = last.unwrap_or(0);
    let mut positions = Vec::with_capacity(count);
    for _ in 0..count {
        position = next_position(now, position);
        positions.push(position);
    }
    sqlx::query(
        "INSERT INTO tenant_clock (tenant_id, last_ms) VALUES (?, ?) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_ms = excluded.last_ms",
    )
    .bind(tenant.as_str())
    .bind(position)
    .execute(&mut *conn)
    .await?;
    Ok(positions)
}
