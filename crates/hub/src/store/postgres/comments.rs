//! Comment rows on PostgreSQL: locked reads for read-modify-write, upserts over arrays, and
//! plugin-local ids in one locked batch (the trait's reads are portable:
//! `portable/comment_reads.rs`).

use super::PostgresStore;
use crate::ids::TenantId;
use crate::rules::upload::StoredComment;
use crate::store::rows::{comment_from_row, StoreRow};
use crate::store::StoreResult;
use fastcomments_protocol::{Comment, CommentIdMapping};
use sqlx::postgres::PgConnection;
use std::collections::HashMap;

/// A comment of the tenant; with `lock`, its row stays locked until the transaction ends, so
/// concurrent changes of one comment (on any node) apply one after the other.
pub(super) async fn load_comment(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: &str,
    lock: bool,
) -> StoreResult<Option<Comment>> {
    let sql = if lock {
        "SELECT id, doc FROM comments WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
    } else {
        "SELECT id, doc FROM comments WHERE tenant_id = $1 AND id = $2"
    };
    let row = sqlx::query(sql)
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(comment_from_row).transpose()
}

/// A comment row to write: the comment, the token that uploaded it (kept when `None`), and its
/// JSON.
pub(super) struct CommentRow<'a> {
    pub(super) comment: &'a Comment,
    pub(super) upload_token: Option<&'a str>,
    pub(super) doc: String,
}

/// Inserts or replaces comments by id in one statement, keeping the lookup columns in step
/// with `doc`.
pub(super) async fn upsert_comment_rows<'a, 'b: 'a>(
    conn: &mut PgConnection,
    rows: impl Iterator<Item = &'a CommentRow<'b>>,
) -> StoreResult<()> {
    write_comment_rows(conn, &rows.collect::<Vec<_>>(), UPSERT_BY_ID).await
}

/// Inserts comments known to be new (fresh ids); a plugin id already stored fails on
/// `comments_by_external` ([`StoreError::Contended`]).
pub(super) async fn insert_new_comment_rows<'a, 'b: 'a>(
    conn: &mut PgConnection,
    rows: impl Iterator<Item = &'a CommentRow<'b>>,
) -> StoreResult<()> {
    write_comment_rows(conn, &rows.collect::<Vec<_>>(), "").await
}

/// What makes the comment INSERT an upsert.
const UPSERT_BY_ID: &str = " ON CONFLICT (id) DO UPDATE SET url_id = excluded.url_id, \
     parent_id = excluded.parent_id, external_id = excluded.external_id, \
     external_parent_id = excluded.external_parent_id, date_ms = excluded.date_ms, \
     upload_token = COALESCE(excluded.upload_token, comments.upload_token), doc = excluded.doc";

/// One INSERT over arrays of `rows`, followed by `on_conflict`.
async fn write_comment_rows(
    conn: &mut PgConnection,
    rows: &[&CommentRow<'_>],
    on_conflict: &str,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Comment) -> Option<&str>| -> Vec<Option<&str>> {
        rows.iter().map(|r| f(r.comment)).collect()
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.comment.id.as_str()).collect();
    let tenants: Vec<&str> = rows.iter().map(|r| r.comment.tenant_id.as_str()).collect();
    let url_ids: Vec<&str> = rows.iter().map(|r| r.comment.url_id.as_str()).collect();
    let parents = col(|c| c.parent_id.as_deref());
    let externals = col(|c| c.external_id.as_deref());
    let external_parents = col(|c| c.external_parent_id.as_deref());
    let dates: Vec<i64> = rows.iter().map(|r| r.comment.date.0).collect();
    let tokens: Vec<Option<&str>> = rows.iter().map(|r| r.upload_token).collect();
    let docs: Vec<&str> = rows.iter().map(|r| r.doc.as_str()).collect();
    let sql = format!(
        "INSERT INTO comments (id, tenant_id, url_id, parent_id, external_id, external_parent_id, date_ms, upload_token, doc) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[]){on_conflict}"
    );
    sqlx::query(&sql)
        .bind(&ids)
        .bind(&tenants)
        .bind(&url_ids)
        .bind(&parents)
        .bind(&externals)
        .bind(&external_parents)
        .bind(&dates)
        .bind(&tokens)
        .bind(&docs)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// As [`upsert_comment_rows`], serialising each comment.
pub(super) async fn upsert_comments(
    conn: &mut PgConnection,
    comments: &[&Comment],
) -> StoreResult<()> {
    let mut rows = Vec::with_capacity(comments.len());
    for c in comments {
        rows.push(CommentRow {
            comment: c,
            upload_token: None,
            doc: serde_json::to_string(c)?,
        });
    }
    upsert_comment_rows(conn, rows.iter()).await
}

/// Comments of a tenant whose `column` is one of `keys`, with the token that last uploaded
/// each; `lock` locks their rows (in id order, so two transactions locking overlapping sets
/// wait rather than deadlock).
pub(super) async fn comments_where_in(
    conn: &mut PgConnection,
    tenant: &TenantId,
    column: &'static str,
    keys: &[&str],
    lock: bool,
) -> StoreResult<Vec<StoredComment>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let lock = if lock { " ORDER BY id FOR UPDATE" } else { "" };
    let rows = sqlx::query(&format!(
        "SELECT doc, upload_token FROM comments WHERE tenant_id = $1 AND {column} = ANY($2){lock}"
    ))
    .bind(tenant.as_str())
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredComment::from_doc(
                &r.text("doc")?,
                r.opt_text("upload_token")?,
            )?)
        })
        .collect()
}

/// `(plugin id, hub id)` of the tenant's comments whose plugin id is one of `keys`.
pub(super) async fn ids_by_external(
    conn: &mut PgConnection,
    tenant: &TenantId,
    keys: &[&str],
) -> StoreResult<Vec<(String, String)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "SELECT external_id, id FROM comments WHERE tenant_id = $1 AND external_id = ANY($2)",
    )
    .bind(tenant.as_str())
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?)
}

pub(super) async fn set_local_ids(
    store: &PostgresStore,
    tenant: &TenantId,
    mappings: &[CommentIdMapping],
) -> StoreResult<u64> {
    let mut tx = store.pool.begin().await?;
    let keys: Vec<&str> = mappings.iter().map(|m| m.fc_id.as_str()).collect();
    let stored = comments_where_in(&mut tx, tenant, "id", &keys, true).await?;
    let mut by_id: HashMap<String, Comment> = stored
        .into_iter()
        .map(|s| (s.comment.id.clone(), s.comment))
        .collect();
    for m in mappings {
        if let Some(c) = by_id.get_mut(&m.fc_id) {
            c.meta
                .get_or_insert_with(Default::default)
                .insert("wpId".into(), serde_json::Value::String(m.wp_id.clone()));
        }
    }
    let changed: Vec<&Comment> = by_id.values().collect();
    upsert_comments(&mut tx, &changed).await?;
    tx.commit().await?;
    Ok(changed.len() as u64)
}
