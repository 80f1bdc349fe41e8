//! Outbox totals for `/metrics` and retention of finished deliveries (issue 13 §4).

use super::*;

pub(super) async fn webhook_stats(store: &SqliteStore) -> StoreResult<WebhookStats> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            .fetch_all(&store.reader)
            .await?;
    let oldest: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(created_at) FROM webhook_deliveries WHERE status IN ('queued', 'retrying')",
    )
    .fetch_one(&store.reader)
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

async fn disabled_subscriptions(store: &SqliteStore) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_subscriptions WHERE disabled_at IS NOT NULL",
    )
    .fetch_one(&store.reader)
    .await?;
    Ok(n.max(0) as u64)
}

pub(super) async fn prune_deliveries(
    store: &SqliteStore,
    before_ms: i64,
    limit: u64,
) -> StoreResult<u64> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let mut tx = store.writer.begin().await?;
    // Through the partial index of finished deliveries: a batch reads only what it removes.
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'cancelled') \
         AND updated_at < ? ORDER BY updated_at LIMIT ?",
    )
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    for chunk in ids.chunks(MAX_PARAMS) {
        for table in ["webhook_attempts", "webhook_deliveries"] {
            let column = if table == "webhook_attempts" {
                "delivery_id"
            } else {
                "id"
            };
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("DELETE FROM {table} WHERE {column} IN ("));
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(id.as_str());
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}
