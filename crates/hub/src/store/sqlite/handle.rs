//! Statements run through `rusqlite` on the writer connection's own SQLite handle: the
//! upload path's many single-row writes and single-key lookups (see [`on_own_handle`]).

use super::comments::{stored_comment, CommentRow};
use super::timeline::EntryRow;
use crate::rules::upload::StoredComment;
use crate::store::StoreResult;
use sqlx::sqlite::SqliteConnection;
/// Runs `work` with a `rusqlite` connection on `conn`'s own SQLite handle, inside whatever
/// transaction `conn` has open, while sqlx's worker thread is locked out of the handle. For the
/// upload path's many small statements: prepared once, values bound straight from Rust data,
/// no message to the worker per statement. `work` must not commit or roll back.
#[allow(unsafe_code)] // the crate's one unsafe call: see SAFETY below
pub(super) async fn on_own_handle<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    // SAFETY: `raw` is the connection's handle, locked away from sqlx's worker by `handle` for
    // as long as `db` lives (it is dropped before `handle`). `db` does not own the handle:
    // dropping it finalizes its own statements and leaves the handle open, inside the
    // transaction.
    let db = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }?;
    let result = work(&db);
    drop(db);
    drop(handle);
    result
}

/// What [`lookup_by_external`] found: stored comments, and (plugin id, hub id) of parents.
pub(super) type ExternalLookup = (Vec<StoredComment>, Vec<(String, String)>);

/// Looks an upload batch's plugin ids up: the stored comments that have one of `targets`
/// (documents, to merge over), and the hub ids of those that have one of `parents` (only to
/// link to). One prepared single-key lookup each.
pub(super) fn lookup_by_external(
    db: &rusqlite::Connection,
    tenant: &str,
    targets: &[&str],
    parents: &[&str],
) -> StoreResult<ExternalLookup> {
    let mut found = Vec::new();
    let mut by_doc = db.prepare(
        "SELECT doc, upload_token FROM comments WHERE tenant_id = ?1 AND external_id = ?2",
    )?;
    for key in targets {
        let mut rows = by_doc.query(rusqlite::params![tenant, key])?;
        if let Some(row) = rows.next()? {
            let doc: String = row.get(0)?;
            found.push(stored_comment(&doc, row.get(1)?)?);
        }
    }
    let mut ids = Vec::new();
    let mut by_id =
        db.prepare("SELECT id FROM comments WHERE tenant_id = ?1 AND external_id = ?2")?;
    for key in parents {
        let mut rows = by_id.query(rusqlite::params![tenant, key])?;
        if let Some(row) = rows.next()? {
            ids.push(((*key).to_owned(), row.get(0)?));
        }
    }
    Ok((found, ids))
}

/// Writes comment rows on a connection's own handle (see [`on_own_handle`]): one prepared
/// single-row statement, values bound straight from the rows. A multi-row statement on a page
/// that the transaction already changed makes SQLite copy that page into a statement journal
/// first (it must be able to undo just that statement); single-row statements need none. New
/// comments are plain inserts; the others (updates, linked children, API writes) are upserts.
pub(super) fn write_comment_rows(
    db: &rusqlite::Connection,
    rows: &[CommentRow<'_>],
) -> StoreResult<()> {
    let values = "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    let mut insert = db.prepare(&format!("{COMMENT_COLUMNS}{values}"))?;
    let mut upsert = db.prepare(&format!("{COMMENT_COLUMNS}{values}{COMMENT_UPSERT}"))?;
    for r in rows {
        let c = r.comment;
        let statement = if r.is_new { &mut insert } else { &mut upsert };
        statement.execute(rusqlite::params![
            c.id,
            c.tenant_id,
            c.url_id,
            c.parent_id,
            c.external_id,
            c.external_parent_id,
            c.date.0,
            r.upload_token,
            r.doc,
            r.event_pos,
        ])?;
    }
    Ok(())
}

/// Writes timeline rows, with their ids, on a connection's own handle, as
/// [`write_comment_rows`] does.
pub(super) fn write_entry_rows(
    db: &rusqlite::Connection,
    tenant: &str,
    entries: &[EntryRow],
    entry_ids: &[String],
) -> StoreResult<()> {
    let mut timeline = db.prepare(&format!(
        "{TIMELINE_COLUMNS}VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    for (r, id) in entries.iter().zip(entry_ids) {
        let e = &r.entry;
        timeline.execute(rusqlite::params![
            tenant,
            r.position,
            id,
            e.kind.as_str(),
            e.url_id,
            e.origin_token,
            e.only_token,
            r.own_payload(),
            r.doc_of,
        ])?;
    }
    Ok(())
}

/// The columns of a comment row, in the order [`CommentRow`]s are bound.
pub(super) const COMMENT_COLUMNS: &str = "INSERT INTO comments (id, tenant_id, url_id, parent_id, external_id, external_parent_id, date_ms, upload_token, doc, event_pos) ";
/// What an upsert of a comment row changes when the id exists.
pub(super) const COMMENT_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET url_id = excluded.url_id, parent_id = excluded.parent_id, \
     external_id = excluded.external_id, external_parent_id = excluded.external_parent_id, \
     date_ms = excluded.date_ms, upload_token = COALESCE(excluded.upload_token, comments.upload_token), \
     doc = excluded.doc, event_pos = excluded.event_pos";
/// The columns of a timeline row, in the order [`EntryRow`]s are bound.
pub(super) const TIMELINE_COLUMNS: &str = "INSERT INTO timeline (tenant_id, created_at, id, kind, url_id, origin_token, only_token, payload, doc_ref) ";
