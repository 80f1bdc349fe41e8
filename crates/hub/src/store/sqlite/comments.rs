//! Comment rows on SQLite: loading, upserting (keeping the lookup columns in step with `doc`)
//! and plugin-local ids (the trait's reads are portable: `portable/comment_reads.rs`).

use super::handle::{on_own_handle, write_comment_rows};
use super::SqliteStore;
use crate::rules::upload::StoredComment;
use crate::store::rows::comment_from_row;
use crate::store::StoreResult;
use fastcomments_protocol::{Comment, CommentIdMapping};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

pub(super) async fn load_comment(
    conn: &mut SqliteConnection,
    tenant: &str,
    id: &str,
) -> StoreResult<Option<Comment>> {
    let row = sqlx::query("SELECT doc FROM comments WHERE tenant_id = ? AND id = ?")
        .bind(tenant)
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
    tenant: &str,
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
        qb.push_bind(tenant);
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
    tenant: &str,
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
    tenant: &str,
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
