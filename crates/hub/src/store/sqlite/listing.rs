//! The admin pages' reads and bulk retry on SQLite (see `store/listing.rs`).

use super::*;

pub(super) async fn list_tenants(store: &SqliteStore) -> StoreResult<Vec<Tenant>> {
    let rows = sqlx::query("SELECT * FROM tenants ORDER BY name, id")
        .fetch_all(&store.reader)
        .await?;
    rows.iter().map(tenant_from_row).collect()
}

pub(super) async fn find_deliveries(
    store: &SqliteStore,
    tenant: &str,
    f: &DeliveryFilter<'_>,
) -> StoreResult<Vec<Delivery>> {
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT * FROM webhook_deliveries WHERE tenant_id = ");
    qb.push_bind(tenant);
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
    qb.push(" ORDER BY created_at DESC, position DESC, id DESC LIMIT ");
    qb.push_bind(i64::try_from(f.limit).unwrap_or(i64::MAX));
    qb.push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(&store.reader).await?;
    rows.iter().map(delivery_from_row).collect()
}

pub(super) async fn delivery_counts(
    store: &SqliteStore,
    tenant: &str,
) -> StoreResult<DeliveryCounts> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) AS n FROM webhook_deliveries WHERE tenant_id = ? GROUP BY status",
    )
    .bind(tenant)
    .fetch_all(&store.reader)
    .await?;
    let mut counts = DeliveryCounts::default();
    for r in &rows {
        let status: String = r.try_get("status")?;
        let n: i64 = r.try_get("n")?;
        if let Some(s) = DeliveryStatus::parse(&status) {
            counts.add(s, u64::try_from(n).unwrap_or(0));
        }
    }
    Ok(counts)
}

pub(super) async fn retry_failed_since(
    store: &SqliteStore,
    tenant: &str,
    since_ms: i64,
    now_ms: i64,
    extra_attempts: i64,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ?, \
         lease_until = NULL, max_attempts = attempts + ? \
         WHERE tenant_id = ? AND status = 'failed' AND updated_at >= ?",
    )
    .bind(now_ms)
    .bind(now_ms)
    .bind(extra_attempts)
    .bind(tenant)
    .bind(since_ms)
    .execute(&store.writer)
    .await?;
    Ok(done.rows_affected())
}
