//! Outbox totals for `/metrics` and retention of finished deliveries (issue 13 §4).

use super::*;

pub(super) async fn webhook_stats(store: &PostgresStore) -> StoreResult<WebhookStats> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            .fetch_all(&store.pool)
            .await?;
    let oldest: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(created_at) FROM webhook_deliveries WHERE status IN ('queued', 'retrying')",
    )
    .fetch_one(&store.pool)
    .await?;
    Ok(WebhookStats {
        by_status: rows
            .into_iter()
            .filter_map(|(s, n)| Some((DeliveryStatus::parse(&s)?, n.max(0) as u64)))
            .collect(),
        oldest_pending_at: oldest,
        disabled_subscriptions: disabled_subscriptions(store).await?,
    })
}

async fn disabled_subscriptions(store: &PostgresStore) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_subscriptions WHERE disabled_at IS NOT NULL",
    )
    .fetch_one(&store.pool)
    .await?;
    Ok(n.max(0) as u64)
}

pub(super) async fn prune_deliveries(
    store: &PostgresStore,
    before_ms: i64,
    limit: u64,
) -> StoreResult<u64> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let mut tx = store.pool.begin().await?;
    // Through the partial index of finished deliveries; SKIP LOCKED so a batch never waits
    // for a row another transaction holds (and two nodes' maintenance split the work).
    let ids: Vec<String> = sqlx::query_scalar(
        "DELETE FROM webhook_deliveries WHERE id IN ( \
           SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'cancelled') \
           AND updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id",
    )
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM webhook_attempts WHERE delivery_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}
