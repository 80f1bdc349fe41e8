//! The tenant timeline, alike on both backends but for how the clock hands out positions
//! (`dialect::take_positions`), how entries are written (the backend's
//! `timeline::insert_entries`), the columns a read selects (`dialect::READ_TIMELINE`) and how
//! pruning moves the clock's prune mark (`dialect::MARK_PRUNED`). The timeline is `t` in every
//! read here.

use super::dialect::{self, announce, sql, Backend, Conn, Db};
use super::timeline::insert_entries;
use crate::ids::TenantId;
use crate::records::{NewEntry, Notice, TimelineBounds, TimelineEntry, TimelineQuery};
use crate::store::rows::entry_from_row;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::{QueryBuilder, Row};

/// Hands out the next `count` positions of a tenant's clock and moves the clock past them.
pub(in crate::store) async fn reserve_positions(
    conn: &mut Conn,
    tenant: &TenantId,
    count: usize,
    now: Millis,
) -> StoreResult<Vec<i64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    dialect::take_positions(conn, tenant, count, now).await
}

/// Appends entries to a tenant's timeline at fresh positions (on PostgreSQL, telling the other
/// nodes the tenant's new newest one).
pub(super) async fn append_entries(
    conn: &mut Conn,
    tenant: &TenantId,
    entries: Vec<NewEntry>,
    now: Millis,
) -> StoreResult<Vec<TimelineEntry>> {
    let positions = reserve_positions(conn, tenant, entries.len(), now).await?;
    // PostgreSQL writes the (position, entry) pairs as they are; SQLite's rows also say which
    // comment's document an entry refers to (none here).
    #[allow(
        clippy::useless_conversion,
        reason = "the identity on PostgreSQL, a conversion on SQLite"
    )]
    let rows = positions.into_iter().zip(entries).map(Into::into).collect();
    insert_entries(conn, tenant, rows).await
}

/// The WHERE clause of a timeline read.
fn push_visibility(qb: &mut QueryBuilder<'_, Db>, q: &TimelineQuery) {
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
    store: &Backend,
    q: &TimelineQuery,
) -> StoreResult<Vec<TimelineEntry>> {
    let mut qb: QueryBuilder<Db> = QueryBuilder::new(dialect::READ_TIMELINE);
    push_visibility(&mut qb, q);
    qb.push(" ORDER BY t.created_at LIMIT ");
    qb.push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(store.reads()).await?;
    rows.iter().map(entry_from_row).collect()
}

pub(super) async fn count_timeline(
    store: &Backend,
    q: &TimelineQuery,
    cap: u64,
) -> StoreResult<u64> {
    let mut qb: QueryBuilder<Db> =
        QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM timeline t");
    push_visibility(&mut qb, q);
    qb.push(" LIMIT ");
    qb.push_bind(i64::try_from(cap).unwrap_or(i64::MAX));
    qb.push(") AS visible");
    let n: i64 = qb.build_query_scalar().fetch_one(store.reads()).await?;
    Ok(n.max(0) as u64)
}

pub(super) async fn timeline_bounds(
    store: &Backend,
    tenant: &TenantId,
) -> StoreResult<TimelineBounds> {
    let text = sql("SELECT last_ms, pruned_through FROM tenant_clock WHERE tenant_id = ?");
    let row = sqlx::query(&text)
        .bind(tenant.as_str())
        .fetch_optional(store.reads())
        .await?;
    Ok(match row {
        Some(r) => TimelineBounds {
            newest: r.try_get("last_ms")?,
            pruned_through: r.try_get("pruned_through")?,
        },
        None => TimelineBounds::default(),
    })
}

/// Drops the entries before `before`, first moving each tenant's prune mark up to the newest
/// of its entries that go.
pub(super) async fn prune_timeline(store: &Backend, before: Millis) -> StoreResult<u64> {
    let mut tx = store.writes().begin().await?;
    sqlx::query(&sql(dialect::MARK_PRUNED))
        .bind(before.0)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(&sql("DELETE FROM timeline WHERE created_at < ?"))
        .bind(before.0)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() > 0 {
        // Another node answering from a cached prune mark would miss the gap.
        announce(&mut tx, &Notice::Pruned).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected())
}
