//! The admin pages' reads and bulk retry, for both backends (compiled once in each: see
//! `portable/mod.rs`).

use super::dialect::{announce, lock_streams, sql, Backend, Db, END_CLAIM};
use super::outbox::settle_heads;
use crate::ids::TenantId;
use crate::records::{Delivery, DeliveryCounts, DeliveryFilter, Notice};
use crate::store::rows::delivery_from_row;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::QueryBuilder;

/// `WHERE` and the filter's conditions, after `qb`'s `FROM webhook_deliveries`.
fn push_filter<'a>(qb: &mut QueryBuilder<'a, Db>, tenant: &'a TenantId, f: &DeliveryFilter<'a>) {
    qb.push(" WHERE tenant_id = ").push_bind(tenant.as_str());
    if let Some(s) = f.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(k) = f.kind {
        qb.push(" AND kind = ").push_bind(k.as_str());
    }
    if let Some(c) = f.comment_id {
        qb.push(" AND comment_id = ").push_bind(c);
    }
    if let Some(d) = f.domain {
        qb.push(" AND (domain = ").push_bind(d);
        qb.push(" OR config_domain = ").push_bind(d).push(")");
    }
    if f.pending {
        qb.push(" AND status IN ('queued', 'retrying')");
    }
    if let Some(d) = f.reach {
        // The domain itself or a subdomain; LIKE's own characters in a name are escaped.
        let escaped = d
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(" AND (domain = ").push_bind(d);
        qb.push(" OR domain LIKE ")
            .push_bind(format!("%.{escaped}"))
            .push(" ESCAPE '\\')");
    }
    if let Some(e) = f.external_id {
        qb.push(" AND comment_id IN (SELECT id FROM comments WHERE tenant_id = ")
            .push_bind(tenant.as_str())
            .push(" AND external_id = ")
            .push_bind(e)
            .push(")");
    }
    if let Some(n) = f.attempts_over {
        qb.push(" AND attempts > ").push_bind(n);
    }
    match f.by_subscription {
        Some(true) => qb.push(" AND subscription_id <> ''"),
        Some(false) => qb.push(" AND subscription_id = ''"),
        None => qb,
    };
}

pub(in crate::store) async fn find_deliveries(
    store: &Backend,
    tenant: &TenantId,
    f: &DeliveryFilter<'_>,
) -> StoreResult<Vec<Delivery>> {
    let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT * FROM webhook_deliveries");
    push_filter(&mut qb, tenant, f);
    qb.push(" ORDER BY created_at DESC, position DESC, id DESC LIMIT ");
    qb.push_bind(i64::try_from(f.limit).unwrap_or(i64::MAX));
    qb.push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(store.reads()).await?;
    rows.iter().map(delivery_from_row).collect()
}

pub(in crate::store) async fn count_deliveries(
    store: &Backend,
    tenant: &TenantId,
    f: &DeliveryFilter<'_>,
) -> StoreResult<u64> {
    let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT COUNT(*) FROM webhook_deliveries");
    push_filter(&mut qb, tenant, f);
    let n: i64 = qb.build_query_scalar().fetch_one(store.reads()).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(in crate::store) async fn delivery_counts(
    store: &Backend,
    tenant: &TenantId,
    sent_up_to: u64,
) -> StoreResult<DeliveryCounts> {
    let text = super::stats::tenant_counts_sql();
    let text = sql(&text);
    let mut q = sqlx::query_as::<_, (String, i64)>(&text);
    for _ in super::stats::UNSENT_STATES {
        q = q.bind(tenant.as_str());
    }
    // The bound plus one: whether there are more.
    let limit = i64::try_from(sent_up_to.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = q
        .bind(tenant.as_str())
        .bind(limit)
        .fetch_all(store.reads())
        .await?;
    Ok(super::stats::tenant_counts(&rows, sent_up_to))
}

pub(in crate::store) async fn retry_failed_since(
    store: &Backend,
    tenant: &TenantId,
    since: Millis,
    now: Millis,
    extra_attempts: i64,
) -> StoreResult<u64> {
    let mut tx = store.writes().begin().await?;
    // The streams of what will be retried are locked first (on PostgreSQL), as for one retry.
    let failed: Vec<String> = sqlx::query_scalar(&sql(
        "SELECT id FROM webhook_deliveries WHERE tenant_id = ? AND status = 'failed' AND updated_at >= ?",
    ))
    .bind(tenant.as_str())
    .bind(since.0)
    .fetch_all(&mut *tx)
    .await?;
    if failed.is_empty() {
        return Ok(0);
    }
    let failed: Vec<&str> = failed.iter().map(String::as_str).collect();
    lock_streams(&mut tx, &failed).await?;
    let text = format!(
        "UPDATE webhook_deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ?, \
         max_attempts = attempts + ?, {END_CLAIM} \
         WHERE tenant_id = ? AND status = 'failed' AND updated_at >= ? RETURNING id"
    );
    let retried: Vec<String> = sqlx::query_scalar(&sql(&text))
        .bind(now.0)
        .bind(now.0)
        .bind(extra_attempts)
        .bind(tenant.as_str())
        .bind(since.0)
        .fetch_all(&mut *tx)
        .await?;
    if !retried.is_empty() {
        // Each is its stream's head again when it is the earliest waiting one.
        let ids: Vec<&str> = retried.iter().map(String::as_str).collect();
        settle_heads(&mut tx, &ids).await?;
        // Other nodes' dispatchers wake on it, as after a single retry.
        announce(&mut tx, &Notice::Deliveries).await?;
    }
    tx.commit().await?;
    Ok(retried.len() as u64)
}
