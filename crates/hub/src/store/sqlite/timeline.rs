//! The tenant timeline on SQLite: entry rows, which may refer to their comment's document.
//! Positions come from the tenant's clock row (`dialect::take_positions`); visibility (echo
//! suppression, token-only entries), the reads, bounds and pruning are portable
//! (`portable/timeline_log.rs`).

use crate::ids::{self, TenantId};
use crate::records::TimelineEntry;
use crate::records::{IntegrationToken, NewEntry};
use crate::store::sqlite::on_own_handle;
use crate::store::StoreResult;
use sqlx::sqlite::SqliteConnection;

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

/// A new entry at its reserved position, with a payload of its own.
impl From<(i64, NewEntry)> for EntryRow {
    fn from((position, entry): (i64, NewEntry)) -> EntryRow {
        EntryRow {
            position,
            entry,
            doc_of: None,
        }
    }
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
