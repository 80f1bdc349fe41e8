//! Outbox totals for `/metrics` (issue 13 §4), for both backends (compiled once in each: see
//! `portable/mod.rs`).

use super::dialect::Backend;
use crate::records::{DeliveryStatus, WebhookStats};
use crate::store::StoreResult;

pub(in crate::store) async fn webhook_stats(store: &Backend) -> StoreResult<WebhookStats> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            .fetch_all(store.reads())
            .await?;
    let oldest: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(created_at) FROM webhook_deliveries WHERE status IN ('queued', 'retrying')",
    )
    .fetch_one(store.reads())
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

async fn disabled_subscriptions(store: &Backend) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_subscriptions WHERE disabled_at IS NOT NULL",
    )
    .fetch_one(store.reads())
    .await?;
    Ok(n.max(0) as u64)
}
