//! Comment rows on SQLite: loading, upserting (keeping the lookup columns in step with `doc`)
//! and plugin-local ids (the trait's reads are portable: `portable/comment_reads.rs`).

use super::handle::on_own_handle;
use super::SqliteStore;
use crate::ids::TenantId;
use crate::rules::upload::StoredComment;
use crate::store::rows::comment_from_row;
use crate::store::StoreResult;
use fastcomments_protocol::{Comment, CommentIdMapping};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

pub(super) async fn load_comment(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    id: &str,
) -> StoreResult<Option<Comment>> {
    let row = sqlx::query("SELECT doc FROM comments WHERE tenant_id = ? AND id = ?")
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(comment_from_row).transpose()
}

/// A stored comment from a row's `doc` and `upload_token`.
pub(super) fn stored_comment(
    doc: &str,
    upload_token: Option<String>,
) -> StoreResult<StoredComment> {
    Ok(StoredComment::from_doc(doc, upload_token)?)
}

/// Writes comments (insert or replace by id), keeping the lookup columns in step with `doc`.
pub(super) async fn upsert_comments(
    conn: &mut SqliteConnection,
    rows: &[(&Comment, Option<&str>)],
) -> StoreResult<()> {
    let mut with_docs = Vec::with_capacity(rows.len());
    for (c, token) in rows {
        with_docs.push(CommentRow {
            comment: c,
            upload_token: *token,
            doc: serde_json::to_string(c)?,
            event_pos: None,
            is_new: false,
        });
    }
    upsert_comment_docs(conn, &with_docs).await
}

/// A comment about to be written, with its JSON made.
pub(super) struct CommentRow<'a> {
    pub(super) comment: &'a Comment,
    pub(super) upload_token: Option<&'a str>,
    pub(super) doc: String,
    /// The position of the timeline entry written with it whose payload is `doc` by
    /// reference (see [`EntryRow::doc_of`]); `None` when no entry refers to this version.
    pub(super) event_pos: Option<i64>,
    /// Not stored yet (a plain insert will do).
    pub(super) is_new: bool,
}

/// As [`upsert_comments`], with each comment's JSON already made.
pub(super) async fn upsert_comment_docs(
    conn: &mut SqliteConnection,
    rows: &[CommentRow<'_>],
) -> StoreResult<()> {
    on_own_handle(conn, |db| write_comment_rows(db, rows)).await
}

/// Rows of `SELECT {columns} FROM comments` of a tenant whose `column` is one of `keys` (and
/// that meet `extra_condition`, an `AND …` clause), in chunks under SQLite's parameter limit.
pub(super) async fn comment_rows_where_in(
    conn: &mut SqliteConnection,
    columns: &'static str,
    tenant: &TenantId,
    column: &'static str,
    extra_condition: &'static str,
    keys: &[&str],
) -> StoreResult<Vec<SqliteRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(900) {
        if chunk.is_empty() {
            continue;
        }
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {columns} FROM comments WHERE tenant_id = "));
        qb.push_bind(tenant.as_str());
        qb.push(format!(" {extra_condition} AND {column} IN ("));
        let mut sep = qb.separated(", ");
        for k in chunk {
            sep.push_bind(*k);
        }
        qb.push(")");
        out.extend(qb.build().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Loads comments of a tenant whose `column` is one of `keys`.
pub(super) async fn comments_where_in(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    column: &'static str,
    extra_condition: &'static str,
    keys: &[&str],
) -> StoreResult<Vec<StoredComment>> {
    let rows = comment_rows_where_in(
        conn,
        "doc, upload_token",
        tenant,
        column,
        extra_condition,
        keys,
    )
    .await?;
    rows.iter()
        .map(|row| stored_comment(row.try_get("doc")?, row.try_get("upload_token")?))
        .collect()
}

pub(super) async fn set_local_ids(
    store: &SqliteStore,
    tenant: &TenantId,
    mappings: &[CommentIdMapping],
) -> StoreResult<u64> {
    let mut tx = store.writer.begin().await?;
    let mut found = 0;
    for m in mappings {
        let Some(mut c) = load_comment(&mut tx, tenant, &m.fc_id).await? else {
            continue;
        };
        c.meta
            .get_or_insert_with(Default::default)
            .insert("wpId".into(), serde_json::Value::String(m.wp_id.clone()));
        upsert_comments(&mut tx, &[(&c, None)]).await?;
        found += 1;
    }
    tx.commit().await?;
    Ok(found)
}

/// What [`lookup_by_external`] found: stored comments, and (plugin id, hub id) of parents.
pub(super) type ExternalLookup = (Vec<StoredComment>, Vec<(String, String)>);

/// Looks an upload batch's plugin ids up: the stored comments that have one of `targets`
/// (documents, to merge over), and the hub ids of those that have one of `parents` (only to
/// link to). One prepared single-key lookup each.
pub(super) fn lookup_by_external(
    db: &rusqlite::Connection,
    tenant: &TenantId,
    targets: &[&str],
    parents: &[&str],
) -> StoreResult<ExternalLookup> {
    let mut found = Vec::new();
    let mut by_doc = db.prepare(
        "SELECT doc, upload_token FROM comments WHERE tenant_id = ?1 AND external_id = ?2",
    )?;
    for key in targets {
        let mut rows = by_doc.query(rusqlite::params![tenant.as_str(), key])?;
        if let Some(row) = rows.next()? {
            let doc: String = row.get(0)?;
            found.push(stored_comment(&doc, row.get(1)?)?);
        }
    }
    let mut ids = Vec::new();
    let mut by_id =
        db.prepare("SELECT id FROM comments WHERE tenant_id = ?1 AND external_id = ?2")?;
    for key in parents {
        let mut rows = by_id.query(rusqlite::params![tenant.as_str(), key])?;
        if let Some(row) = rows.next()? {
            ids.push(((*key).to_owned(), row.get(0)?));
        }
    }
    Ok((found, ids))
}

/// Writes comment rows on a connection's own handle (see [`on_own_handle`](super::handle::on_own_handle)): one prepared
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

/// The columns of a comment row, in the order [`CommentRow`]s are bound.
pub(super) const COMMENT_COLUMNS: &str = "INSERT INTO comments (id, tenant_id, url_id, parent_id, external_id, external_parent_id, date_ms, upload_token, doc, event_pos) ";
/// What an upsert of a comment row changes when the id exists.
pub(super) const COMMENT_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET url_id = excluded.url_id, parent_id = excluded.parent_id, \
     external_id = excluded.external_id, external_parent_id = excluded.external_parent_id, \
     date_ms = excluded.date_ms, upload_token = COALESCE(excluded.upload_token, comments.upload_token), \
     doc = excluded.doc, event_pos = excluded.event_pos";
