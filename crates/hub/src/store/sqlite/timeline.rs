//! The tenant timeline: positions from the tenant's clock row, entry rows, visibility
//! (echo suppression, token-only entries) and the reads, bounds and pruning of the trait.

use crate::clock::next_position;
use crate::ids::{self, TenantId};
use crate::records::TimelineBounds;
use crate::records::TimelineEntry;
use crate::records::TimelineQuery;
use crate::records::{IntegrationToken, NewEntry};
use crate::store::sqlite::entry_from_row;
use crate::store::sqlite::on_own_handle;
use crate::store::sqlite::SqliteStore;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::sqlite::SqliteConnection;
use sqlx::QueryBuilder;
use sqlx::Row;
use sqlx::Sqlite;

/// Appends entries to a tenant's timeline at strictly increasing positions.
pub(super) async fn append_entries(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    entries: Vec<NewEntry>,
    now: Millis,
) -> StoreResult<Vec<TimelineEntry>> {
    let positions = reserve_positions(conn, tenant, entries.len(), now).await?;
    let rows: Vec<EntryRow> = entries
        .into_iter()
        .zip(positions)
        .map(|(entry, position)| EntryRow {
            position,
            entry,
            doc_of: None,
        })
        .collect();
    insert_entries(conn, tenant, rows).await
}

/// Hands out the next `count` positions of a tenant's clock (strictly increasing, never
/// behind `now`'s past positions) and moves the clock past them.
pub(super) async fn reserve_positions(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    count: usize,
    now: Millis,
) -> StoreResult<Vec<i64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
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

/// A timeline entry about to be written at a reserved position.
pub(super) struct EntryRow {
    pub(super) position: i64,
    pub(super) entry: NewEntry,
    /// The entry's payload is this comment's stored document, written in the same
    /// transaction with `event_pos` = `position`: the entry stores no copy of it (`doc_ref`)
    /// until the document changes (the `comments_event_payload_*` triggers copy it then).
    pub(super) doc_of: Option<String>,
}

/// Writes entries at their reserved positions.
pub(super) async fn insert_entries(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    rows: Vec<EntryRow>,
) -> StoreResult<Vec<TimelineEntry>> {
    let ids: Vec<String> = rows.iter().map(|_| ids::object_id()).collect();
    on_own_handle(conn, |db| write_entry_rows(db, tenant, &rows, &ids)).await?;
    Ok(stored_entries(rows, ids))
}

/// What [`insert_entries`] reports: the entries with their ids.
pub(super) fn stored_entries(rows: Vec<EntryRow>, ids: Vec<String>) -> Vec<TimelineEntry> {
    rows.into_iter()
        .zip(ids)
        .map(|(r, id)| TimelineEntry {
            id,
            created_at: r.position,
            kind: r.entry.kind,
            url_id: r.entry.url_id,
            payload: r.entry.payload,
        })
        .collect()
}

impl EntryRow {
    /// The payload stored in the entry itself (none when it refers to a comment's document).
    pub(super) fn own_payload(&self) -> Option<&str> {
        match self.doc_of {
            Some(_) => None,
            None => self.entry.payload.as_deref(),
        }
    }
}

/// The WHERE clause of a timeline read; the timeline is `t` in the query.
pub(super) fn push_visibility(qb: &mut QueryBuilder<'_, Sqlite>, q: &TimelineQuery) {
    qb.push(" WHERE t.tenant_id = ");
    qb.push_bind(q.tenant_id.as_str().to_owned());
    qb.push(" AND t.created_at > ");
    qb.push_bind(q.after_ms);
    if let Some(until) = q.until_ms {
        qb.push(" AND t.created_at <= ");
        qb.push_bind(until);
    }
    qb.push(" AND (t.origin_token IS NULL OR t.origin_token <> ");
    qb.push_bind(q.viewer_token.as_str().to_owned());
    qb.push(") AND (t.only_token IS NULL OR t.only_token = ");
    qb.push_bind(q.viewer_token.as_str().to_owned());
    qb.push(")");
    if !q.include_setup {
        qb.push(" AND t.kind <> 'SetSetupCompleted'");
    }
}

pub(super) async fn read_timeline(
    store: &SqliteStore,
    q: &TimelineQuery,
) -> StoreResult<Vec<TimelineEntry>> {
    let mut qb: QueryBuilder<Sqlite> =
        // An entry without a payload of its own (`doc_ref`) takes its comment's document.
        QueryBuilder::new(
            "SELECT t.id, t.created_at, t.kind, t.url_id, COALESCE(t.payload, c.doc) AS payload \
             FROM timeline t LEFT JOIN comments c ON t.payload IS NULL AND c.id = t.doc_ref",
        );
    push_visibility(&mut qb, q);
    qb.push(" ORDER BY t.created_at LIMIT ");
    qb.push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(&store.reader).await?;
    rows.iter().map(entry_from_row).collect()
}

pub(super) async fn count_timeline(
    store: &SqliteStore,
    q: &TimelineQuery,
    cap: u64,
) -> StoreResult<u64> {
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM timeline t");
    push_visibility(&mut qb, q);
    qb.push(" LIMIT ");
    qb.push_bind(i64::try_from(cap).unwrap_or(i64::MAX));
    qb.push(")");
    let n: i64 = qb.build_query_scalar().fetch_one(&store.reader).await?;
    Ok(n.max(0) as u64)
}

pub(super) async fn timeline_bounds(
    store: &SqliteStore,
    tenant: &TenantId,
) -> StoreResult<TimelineBounds> {
    let row = sqlx::query("SELECT last_ms, pruned_through FROM tenant_clock WHERE tenant_id = ?")
        .bind(tenant.as_str())
        .fetch_optional(&store.reader)
        .await?;
    Ok(match row {
        Some(r) => TimelineBounds {
            newest: r.try_get("last_ms")?,
            pruned_through: r.try_get("pruned_through")?,
        },
        None => TimelineBounds::default(),
    })
}

pub(super) async fn prune_timeline(store: &SqliteStore, before: Millis) -> StoreResult<u64> {
    let mut tx = store.writer.begin().await?;
    sqlx::query(
        "UPDATE tenant_clock SET pruned_through = MAX(pruned_through, \
         (SELECT MAX(created_at) FROM timeline t WHERE t.tenant_id = tenant_clock.tenant_id AND t.created_at < ?)) \
         WHERE EXISTS (SELECT 1 FROM timeline t WHERE t.tenant_id = tenant_clock.tenant_id AND t.created_at < ?)",
    )
    .bind(before.0)
    .bind(before.0)
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query("DELETE FROM timeline WHERE created_at < ?")
        .bind(before.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Writes timeline rows, with their ids, on a connection's own handle, as
/// [`write_comment_rows`](super::comments::write_comment_rows) does.
pub(super) fn write_entry_rows(
    db: &rusqlite::Connection,
    tenant: &TenantId,
    entries: &[EntryRow],
    entry_ids: &[String],
) -> StoreResult<()> {
    let mut timeline = db.prepare(&format!(
        "{TIMELINE_COLUMNS}VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    for (r, id) in entries.iter().zip(entry_ids) {
        let e = &r.entry;
        timeline.execute(rusqlite::params![
            tenant.as_str(),
            r.position,
            id,
            e.kind.as_str(),
            e.url_id,
            e.origin_token.as_ref().map(IntegrationToken::as_str),
            e.only_token.as_ref().map(IntegrationToken::as_str),
            r.own_payload(),
            r.doc_of,
        ])?;
    }
    Ok(())
}

/// The columns of a timeline row, in the order [`EntryRow`]s are bound.
pub(super) const TIMELINE_COLUMNS: &str = "INSERT INTO timeline (tenant_id, created_at, id, kind, url_id, origin_token, only_token, payload, doc_ref) ";
