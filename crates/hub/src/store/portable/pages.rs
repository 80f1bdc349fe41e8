//! Pages, for both backends (compiled once in each: see `portable/mod.rs`): a thread's page
//! made with its first comment (`ensure_pages`, inside the writing transaction), read with its
//! comments counted, made and changed through the API.

use super::dialect::{sql, Backend, Conn, Db, Row, MAX_PARAMS};
use super::{read_one, rows_up_to};
use crate::ids::TenantId;
use crate::records::{Page, PageChange, PageSeed};
use crate::store::{StoreError, StoreResult};
use fastcomments_protocol::Millis;
use sqlx::QueryBuilder;
use sqlx::Row as _;

/// A page with its comments counted (both counts read the `comments_in_thread` index).
const PAGE_SELECT: &str = "SELECT p.id, p.tenant_id, p.url_id, p.url, p.title, p.is_closed, \
     p.created_at, \
     (SELECT COUNT(*) FROM comments c WHERE c.tenant_id = p.tenant_id AND c.url_id = p.url_id) \
       AS comment_count, \
     (SELECT COUNT(*) FROM comments c WHERE c.tenant_id = p.tenant_id AND c.url_id = p.url_id \
       AND c.parent_id IS NULL) AS root_count \
     FROM pages p";

fn page_from_row(row: &Row) -> StoreResult<Page> {
    let count = |column: &str| -> StoreResult<u64> {
        let n: i64 = row.try_get(column)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(Page {
        id: row.try_get("id")?,
        tenant_id: TenantId::from(row.try_get::<String, _>("tenant_id")?),
        url_id: row.try_get("url_id")?,
        url: row.try_get("url")?,
        title: row.try_get("title")?,
        is_closed: row.try_get("is_closed")?,
        created_at: row.try_get("created_at")?,
        comment_count: count("comment_count")?,
        root_comment_count: count("root_count")?,
    })
}

/// Makes the page of each thread in `seeds` that has none, inside the caller's transaction: one
/// statement for many threads (an upload batch may start hundreds).
pub(in crate::store) async fn ensure_pages(
    tx: &mut Conn,
    tenant: &TenantId,
    seeds: &[PageSeed<'_>],
    now: Millis,
) -> StoreResult<()> {
    const PER_ROW: usize = 6;
    for chunk in seeds.chunks(MAX_PARAMS / PER_ROW) {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO pages (id, tenant_id, url_id, url, title, created_at) ");
        qb.push_values(chunk, |mut b, seed| {
            b.push_bind(crate::ids::object_id())
                .push_bind(tenant.as_str())
                .push_bind(seed.url_id)
                .push_bind(seed.url)
                .push_bind(seed.title)
                .push_bind(now.0);
        });
        qb.push(" ON CONFLICT (tenant_id, url_id) DO NOTHING");
        qb.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// The tenant's pages, oldest first, at most `limit`.
pub(in crate::store) async fn pages(
    store: &Backend,
    tenant: &TenantId,
    limit: u64,
) -> StoreResult<Vec<Page>> {
    let text = format!("{PAGE_SELECT} WHERE p.tenant_id = ? ORDER BY p.created_at, p.id LIMIT ?");
    let text = sql(&text);
    let rows = rows_up_to(store, sqlx::query(&text).bind(tenant.as_str()), limit).await?;
    rows.iter().map(page_from_row).collect()
}

/// The tenant's page whose `column` (`id` or `url_id`) is `key`.
pub(in crate::store) async fn page_by(
    store: &Backend,
    tenant: &TenantId,
    by_url_id: bool,
    key: &str,
) -> StoreResult<Option<Page>> {
    let column = if by_url_id { "url_id" } else { "id" };
    let text = format!("{PAGE_SELECT} WHERE p.tenant_id = ? AND p.{column} = ?");
    read_one(store, &text, &[tenant.as_str(), key], page_from_row).await
}

/// Adds a page; [`StoreError::Conflict`] when its thread has one.
pub(in crate::store) async fn add_page(store: &Backend, page: &Page) -> StoreResult<()> {
    let mut tx = store.writes().begin().await?;
    let done = sqlx::query(&sql(
        "INSERT INTO pages (id, tenant_id, url_id, url, title, is_closed, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, url_id) DO NOTHING",
    ))
    .bind(&page.id)
    .bind(page.tenant_id.as_str())
    .bind(&page.url_id)
    .bind(page.url.as_deref())
    .bind(page.title.as_deref())
    .bind(page.is_closed)
    .bind(page.created_at)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "thread {:?} has a page already",
            page.url_id
        )));
    }
    tx.commit().await?;
    Ok(())
}

/// Changes a page's own fields; `false` when the tenant has no such page.
pub(in crate::store) async fn change_page(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
    change: &PageChange,
) -> StoreResult<bool> {
    let mut tx = store.writes().begin().await?;
    let done = sqlx::query(&sql(
        "UPDATE pages SET title = COALESCE(?, title), url = COALESCE(?, url), \
         is_closed = COALESCE(?, is_closed) WHERE tenant_id = ? AND id = ?",
    ))
    .bind(change.title.as_deref())
    .bind(change.url.as_deref())
    .bind(change.is_closed)
    .bind(tenant.as_str())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}
