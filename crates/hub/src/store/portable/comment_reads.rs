//! The trait's comment and vote reads, for both backends (compiled once in each: see
//! `portable/mod.rs`).

use super::dialect::{read_comment, sql, Backend};
use crate::ids::TenantId;
use crate::records::CommentsQuery;
use crate::store::rows::readable_comments;
use crate::store::StoreResult;
use fastcomments_protocol::Comment;

pub(in crate::store) async fn comment(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
) -> StoreResult<Option<Comment>> {
    let mut conn = store.reads().acquire().await?;
    read_comment(&mut conn, tenant, id, false).await
}

pub(in crate::store) async fn comments_page(
    store: &Backend,
    tenant: &TenantId,
    skip: u64,
    limit: u64,
) -> StoreResult<Vec<Comment>> {
    let rows = sqlx::query(&sql(
        "SELECT id, doc FROM comments WHERE tenant_id = ? ORDER BY date_ms, id LIMIT ? OFFSET ?",
    ))
    .bind(tenant.as_str())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(i64::try_from(skip).unwrap_or(i64::MAX))
    .fetch_all(store.reads())
    .await?;
    readable_comments(&rows)
}

pub(in crate::store) async fn list_comments(
    store: &Backend,
    tenant: &TenantId,
    q: &CommentsQuery<'_>,
) -> StoreResult<Vec<Comment>> {
    let text = q.sql();
    let text = sql(&text);
    let mut query = sqlx::query(&text).bind(tenant.as_str());
    if let Some(url_id) = q.url_id {
        query = query.bind(url_id);
    }
    let rows = query
        .bind(i64::try_from(q.limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(q.skip).unwrap_or(i64::MAX))
        .fetch_all(store.reads())
        .await?;
    readable_comments(&rows)
}

pub(in crate::store) async fn count_comments(
    store: &Backend,
    tenant: &TenantId,
) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(&sql("SELECT COUNT(*) FROM comments WHERE tenant_id = ?"))
        .bind(tenant.as_str())
        .fetch_one(store.reads())
        .await?;
    Ok(n.max(0) as u64)
}
