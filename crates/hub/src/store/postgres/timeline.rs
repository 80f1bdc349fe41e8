//! The tenant timeline on PostgreSQL: positions from the tenant's clock row, entries written
//! with their payloads, and the trait's reads, bounds and pruning.

use crate::ids::TenantId;
use crate::records::Notice;
use crate::records::TimelineBounds;
use crate::records::TimelineEntry;
use crate::records::TimelineQuery;
use crate::records::{IntegrationToken, NewEntry};
use crate::store::postgres::announce;
use crate::store::postgres::PostgresStore;
use crate::store::rows::entry_from_row;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::postgres::PgConnection;
use sqlx::Postgres;
use sqlx::QueryBuilder;
use sqlx::Row;

/// Hands out the next `count` positions of a tenant's clock (`max(now, last + 1)` onwards,
/// SPEC §1.2) in one statement. The row stays locked until the transaction ends, so the
/// tenant's next writer, on any node, waits and then continues past these positions: one
/// tenant's appends commit in position order.
pub(super) async fn reserve_positions(
    conn: &mut PgConnection,
    tenant: &TenantId,
    count: usize,
    now: Millis,
) -> StoreResult<Vec<i64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let n = count as i64;
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO tenant_clock (tenant_id, last_ms) VALUES ($1, $2 + $3 - 1) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_ms = GREATEST($2, tenant_clock.last_ms + 1) + $3 - 1 \
         RETURNING last_ms",
    )
    .bind(tenant.as_str())
    .bind(now.0)
    .bind(n)
    .fetch_one(&mut *conn)
    .await?;
    Ok((last - n + 1..=last).collect())
}

/// Appends entries at fresh positions and tells the other nodes the tenant's new newest one.
pub(super) async fn append_entries(
    conn: &mut PgConnection,
    tenant: &TenantId,
    entries: Vec<NewEntry>,
    now: Millis,
) -> StoreResult<Vec<TimelineEntry>> {
    let positions = reserve_positions(conn, tenant, entries.len(), now).await?;
    insert_entries(conn, tenant, positions.into_iter().zip(entries).collect()).await
}

/// Writes entries at their reserved positions (one statement over arrays) and announces the
/// newest position.
pub(super) async fn insert_entries(
    conn: &mut PgConnection,
    tenant: &TenantId,
    rows: Vec<(i64, NewEntry)>,
) -> StoreResult<Vec<TimelineEntry>> {
    let Some(newest) = rows.iter().map(|(p, _)| *p).max() else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = rows.iter().map(|_| crate::ids::object_id()).collect();
    let positions: Vec<i64> = rows.iter().map(|(p, _)| *p).collect();
    let kinds: Vec<&str> = rows.iter().map(|(_, e)| e.kind.as_str()).collect();
    let url_ids: Vec<&str> = rows.iter().map(|(_, e)| e.url_id.as_str()).collect();
    let origins: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, e)| e.origin_token.as_ref().map(IntegrationToken::as_str))
        .collect();
    let onlys: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, e)| e.only_token.as_ref().map(IntegrationToken::as_str))
        .collect();
    let payloads: Vec<Option<&str>> = rows.iter().map(|(_, e)| e.payload.as_deref()).collect();
    sqlx::query(
        "INSERT INTO timeline (tenant_id, created_at, id, kind, url_id, origin_token, only_token, payload) \
         SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])",
    )
    .bind(tenant.as_str())
    .bind(&positions)
    .bind(&ids)
    .bind(&kinds)
    .bind(&url_ids)
    .bind(&origins)
    .bind(&onlys)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    announce(
        conn,
        &Notice::Timeline {
            tenant: tenant.to_owned(),
            newest,
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .zip(ids)
        .map(|((position, e), id)| TimelineEntry {
            id,
            created_at: position,
            kind: e.kind,
            url_id: e.url_id,
            payload: e.payload,
        })
        .collect())
}

/// The WHERE clause of a timeline read.
fn push_visibility(qb: &mut QueryBuilder<'_, Postgres>, q: &TimelineQuery) {
    qb.push(" WHERE tenant_id = ");
    qb.push_bind(q.tenant_id.as_str().to_owned());
    qb.push(" AND created_at > ");
    qb.push_bind(q.after_ms);
    if let Some(until) = q.until_ms {
        qb.push(" AND created_at <= ");
        qb.push_bind(until);
    }
    qb.push(" AND (origin_token IS NULL OR origin_token <> ");
    qb.push_bind(q.viewer_token.as_str().to_owned());
    qb.push(") AND (only_token IS NULL OR only_token = ");
    qb.push_bind(q.viewer_token.as_str().to_owned());
    qb.push(")");
    if !q.include_setup {
        qb.push(" AND kind <> 'SetSetupCompleted'");
    }
}

pub(super) async fn read_timeline(
    store: &PostgresStore,
    q: &TimelineQuery,
) -> StoreResult<Vec<TimelineEntry>> {
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT id, created_at, kind, url_id, payload FROM timeline");
    push_visibility(&mut qb, q);
    qb.push(" ORDER BY created_at LIMIT ");
    qb.push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(&store.pool).await?;
    rows.iter().map(entry_from_row).collect()
}

pub(super) async fn count_timeline(
    store: &PostgresStore,
    q: &TimelineQuery,
    cap: u64,
) -> StoreResult<u64> {
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM timeline");
    push_visibility(&mut qb, q);
    qb.push(" LIMIT ");
    qb.push_bind(i64::try_from(cap).unwrap_or(i64::MAX));
    qb.push(") AS visible");
    let n: i64 = qb.build_query_scalar().fetch_one(&store.pool).await?;
    Ok(n.max(0) as u64)
}

pub(super) async fn timeline_bounds(
    store: &PostgresStore,
    tenant: &TenantId,
) -> StoreResult<TimelineBounds> {
    let row = sqlx::query("SELECT last_ms, pruned_through FROM tenant_clock WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&store.pool)
        .await?;
    Ok(match row {
        Some(r) => TimelineBounds {
            newest: r.try_get("last_ms")?,
            pruned_through: r.try_get("pruned_through")?,
        },
        None => TimelineBounds::default(),
    })
}

pub(super) async fn prune_timeline(store: &PostgresStore, before: Millis) -> StoreResult<u64> {
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "UPDATE tenant_clock SET pruned_through = GREATEST(pruned_through, p.newest) \
         FROM (SELECT tenant_id, MAX(created_at) AS newest FROM timeline WHERE created_at < $1 GROUP BY tenant_id) p \
         WHERE tenant_clock.tenant_id = p.tenant_id",
    )
    .bind(before.0)
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query("DELETE FROM timeline WHERE created_at < $1")
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
