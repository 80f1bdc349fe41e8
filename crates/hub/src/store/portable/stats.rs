//! Outbox totals for `/metrics` (issue 13 §4), for both backends (compiled once in each: see
//! `portable/mod.rs`).

use super::dialect::Backend;
use crate::records::{DeliveryStatus, WebhookStats};
use crate::store::StoreResult;

/// A delivery's state while it is open ([`DeliveryStatus::OPEN`]), null once it is sent or
/// cancelled: the expression `webhook_deliveries_open` is
/// built over (and partial on), spelled as in its migration. No other statement names it, so
/// none is planned through that index (a partial index whose predicate a claim implies was a
/// claim's way on stale statistics: migration 17).
pub(in crate::store) const OPEN_STATE: &str =
    "(CASE WHEN status IN ('queued', 'retrying', 'paused', 'failed') THEN status END)";

/// [`webhook_stats`]' statement: each open state's count and oldest delivery, read from
/// `webhook_deliveries_open` alone, whatever the retention keeps of sent ones. One equality
/// per state, each a range of the index: as a `GROUP BY` over `OPEN_STATE IS NOT NULL`, the
/// planner, with no estimate for the expression, counted on most rows matching and read the
/// whole table.
pub(in crate::store) fn open_counts_sql() -> String {
    DeliveryStatus::OPEN
        .iter()
        .map(|status| {
            let state = status.as_str();
            format!(
                "SELECT '{state}', COUNT(*), MIN(created_at) FROM webhook_deliveries \
                 WHERE {OPEN_STATE} = '{state}'"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

pub(in crate::store) async fn webhook_stats(store: &Backend) -> StoreResult<WebhookStats> {
    let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(&open_counts_sql())
        .fetch_all(store.reads())
        .await?;
    let by_status: Vec<(DeliveryStatus, u64, Option<i64>)> = rows
        .into_iter()
        .filter_map(|(s, n, oldest)| Some((DeliveryStatus::parse(&s)?, n.max(0) as u64, oldest)))
        .collect();
    let oldest_pending_at = by_status
        .iter()
        .filter(|(s, ..)| s.is_pending())
        .filter_map(|(.., oldest)| *oldest)
        .min();
    Ok(WebhookStats {
        by_status: by_status.into_iter().map(|(s, n, _)| (s, n)).collect(),
        oldest_pending_at,
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
