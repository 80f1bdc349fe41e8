//! The trait's comment and vote reads, for both backends (compiled once in each: see
//! `portable/mod.rs`).

use super::dialect::{read_comment, sql, Backend, Db};
use super::{read_rows, rows_up_to};
use crate::ids::TenantId;
use crate::records::CommentsQuery;
use crate::store::rows::{readable_comments, vote_from_row};
use crate::store::StoreResult;
use fastcomments_protocol::{Comment, Millis, Vote};
use sqlx::query::Query;
use sqlx::Database;

/// What a `SELECT COUNT(…)` whose one placeholder is the tenant counts.
async fn tenant_count(store: &Backend, text: &str, tenant: &TenantId) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(&sql(text))
        .bind(tenant.as_str())
        .fetch_one(store.reads())
        .await?;
    Ok(n.max(0) as u64)
}

/// The comments a read selects: `query`'s last placeholders bound to `limit` and then, when
/// given, `skip`; its rows read as `readable_comments` reads them.
async fn comments_of<'q>(
    store: &Backend,
    query: Query<'q, Db, <Db as Database>::Arguments<'q>>,
    limit: u64,
    skip: Option<u64>,
) -> StoreResult<Vec<Comment>> {
    let mut query = query.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    if let Some(skip) = skip {
        query = query.bind(i64::try_from(skip).unwrap_or(i64::MAX));
    }
    let rows = query.fetch_all(store.reads()).await?;
    readable_comments(&rows)
}

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
    let text = "SELECT id, doc FROM comments WHERE tenant_id = ? AND external_id = ?";
    let rows = read_rows(store, text, &[tenant.as_str(), external_id]).await?;
    Ok(readable_comments(&rows)?.pop())
}

pub(in crate::store) async fn comments_page(
    store: &Backend,
    tenant: &TenantId,
    skip: u64,
    limit: u64,
) -> StoreResult<Vec<Comment>> {
    let text = sql(
        "SELECT id, doc FROM comments WHERE tenant_id = ? ORDER BY date_ms, id LIMIT ? OFFSET ?",
    );
    let query = sqlx::query(&text).bind(tenant.as_str());
    comments_of(store, query, limit, Some(skip)).await
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
    comments_of(store, query, q.limit, Some(q.skip)).await
}

pub(in crate::store) async fn count_comments(
    store: &Backend,
    tenant: &TenantId,
) -> StoreResult<u64> {
    tenant_count(
        store,
        "SELECT COUNT(*) FROM comments WHERE tenant_id = ?",
        tenant,
    )
    .await
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
    let rows = rows_up_to(store, query, limit).await?;
    rows.iter().map(vote_from_row).collect()
}

/// How many of the tenant's comments someone flagged.
pub(in crate::store) async fn count_flagged(
    store: &Backend,
    tenant: &TenantId,
) -> StoreResult<u64> {
    let text = "SELECT COUNT(DISTINCT comment_id) FROM comment_flags WHERE tenant_id = ?";
    tenant_count(store, text, tenant).await
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
    let text = sql("SELECT id, doc FROM comments WHERE tenant_id = ? \
         AND (date_ms, id) > (?, ?) ORDER BY date_ms, id LIMIT ?");
    let query = sqlx::query(&text)
        .bind(tenant.as_str())
        .bind(date.0)
        .bind(id);
    comments_of(store, query, limit, None).await
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
    let text = sql("SELECT id, doc FROM comments WHERE tenant_id = ? \
         AND (url_id, date_ms, id) > (?, ?, ?) ORDER BY url_id, date_ms, id LIMIT ?");
    let query = sqlx::query(&text)
        .bind(tenant.as_str())
        .bind(url_id)
        .bind(date.0)
        .bind(id);
    comments_of(store, query, limit, None).await
}
