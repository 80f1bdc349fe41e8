//! The trait's comment and vote reads, for both backends (compiled once in each: see
//! `portable/mod.rs`).

use super::dialect::{read_comment, sql, Backend};
use crate::ids::TenantId;
use crate::records::CommentsQuery;
use crate::store::rows::{readable_comments, vote_from_row};
use crate::store::StoreResult;
use fastcomments_protocol::{Comment, Millis, Vote};

pub(in crate::store) async fn comment(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
) -> StoreResult<Option<Comment>> {
    let mut conn = store.reads().acquire().await?;
    read_comment(&mut conn, tenant, id, false).await
}

/// The tenant's comment with the site's id `external_id`.
pub(in crate::store) async fn comment_by_external_id(
    store: &Backend,
    tenant: &TenantId,
    external_id: &str,
) -> StoreResult<Option<Comment>> {
    let rows = sqlx::query(&sql(
        "SELECT id, doc FROM comments WHERE tenant_id = ? AND external_id = ?",
    ))
    .bind(tenant.as_str())
    .bind(external_id)
    .fetch_all(store.reads())
    .await?;
    Ok(readable_comments(&rows)?.pop())
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
    for text in [q.url_id, q.parent_id].into_iter().flatten() {
        query = query.bind(text);
    }
    for ms in [q.from_ms, q.to_ms].into_iter().flatten() {
        query = query.bind(ms);
    }
    if q.flagged_only {
        query = query.bind(tenant.as_str());
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

/// The votes on a thread's comments, oldest first, at most `limit`; only `voter`'s when given
/// (its key as [`crate::rules::votes::voter`] makes it).
pub(in crate::store) async fn thread_votes(
    store: &Backend,
    tenant: &TenantId,
    url_id: &str,
    voter: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<Vote>> {
    let by_voter = if voter.is_some() {
        " AND v.user_id = ?"
    } else {
        ""
    };
    let text = format!(
        "SELECT v.doc FROM comments c JOIN votes v ON v.comment_id = c.id \
         WHERE c.tenant_id = ? AND c.url_id = ? AND v.tenant_id = ?{by_voter} \
         ORDER BY v.created_at, v.id LIMIT ?"
    );
    let text = sql(&text);
    let mut query = sqlx::query(&text)
        .bind(tenant.as_str())
        .bind(url_id)
        .bind(tenant.as_str());
    if let Some(voter) = voter {
        query = query.bind(voter);
    }
    let rows = query
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(store.reads())
        .await?;
    rows.iter().map(vote_from_row).collect()
}

/// How many of the tenant's comments someone flagged.
pub(in crate::store) async fn count_flagged(
    store: &Backend,
    tenant: &TenantId,
) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(&sql(
        "SELECT COUNT(DISTINCT comment_id) FROM comment_flags WHERE tenant_id = ?",
    ))
    .bind(tenant.as_str())
    .fetch_one(store.reads())
    .await?;
    Ok(n.max(0) as u64)
}

/// The tenant's comments after `(date, id)`, by `(date, id)`, at most `limit` (keyset paging
/// over `comments_by_date`).
pub(in crate::store) async fn comments_after(
    store: &Backend,
    tenant: &TenantId,
    after: Option<(Millis, &str)>,
    limit: u64,
) -> StoreResult<Vec<Comment>> {
    // From the first comment on: before every instant a comment can have.
    let (date, id) = after.unwrap_or((Millis(i64::MIN), ""));
    // A row comparison, not `date_ms > ? OR (date_ms = ? AND id > ?)`: PostgreSQL reads the
    // row form as one range of the index and the OR form as a filter over every comment of
    // the tenant, 1.2 s a page at 1,000,000 comments.
    let rows = sqlx::query(&sql("SELECT id, doc FROM comments WHERE tenant_id = ? \
         AND (date_ms, id) > (?, ?) ORDER BY date_ms, id LIMIT ?"))
    .bind(tenant.as_str())
    .bind(date.0)
    .bind(id)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(store.reads())
    .await?;
    readable_comments(&rows)
}

/// The tenant's comments after `(url_id, date, id)` (from the first without it), thread by
/// thread and by `(date, id)` within one, at most `limit` (keyset paging over
/// `comments_in_thread`).
pub(in crate::store) async fn comments_by_thread_after(
    store: &Backend,
    tenant: &TenantId,
    after: Option<(&str, Millis, &str)>,
    limit: u64,
) -> StoreResult<Vec<Comment>> {
    // From the first comment on: before every thread, instant and id (ids are never empty).
    let (url_id, date, id) = after.unwrap_or(("", Millis(i64::MIN), ""));
    // One range of the index, as in `comments_after`.
    let rows = sqlx::query(&sql("SELECT id, doc FROM comments WHERE tenant_id = ? \
         AND (url_id, date_ms, id) > (?, ?, ?) ORDER BY url_id, date_ms, id LIMIT ?"))
    .bind(tenant.as_str())
    .bind(url_id)
    .bind(date.0)
    .bind(id)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(store.reads())
    .await?;
    readable_comments(&rows)
}
