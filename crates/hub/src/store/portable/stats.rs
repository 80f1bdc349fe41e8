//! Outbox totals by state for `/metrics` (issue 13 §4) and a tenant's for the admin page, for
//! both backends (compiled once in each: see `portable/mod.rs`).

use super::dialect::Backend;
use crate::records::{DeliveryStatus, WebhookStats};
use crate::store::StoreResult;

/// A delivery's state as `webhook_deliveries_by_state` holds it, with the tenant and the
/// creation time after it: spelled as in its migration, and named by no statement but the
/// counts by state, so no claim or stream read is planned through that index (a partial
/// index whose predicate a claim implies was a claim's way on stale statistics: migration 17).
pub(in crate::store) const STATE: &str = "(status || '')";

/// [`webhook_stats`]' statement: each open state's count and oldest delivery, one range of
/// `webhook_deliveries_by_state` per state, whatever the retention keeps of sent ones. One
/// equality per state: as a `GROUP BY` over the open states, the planner, with no estimate
/// for the expression, counted on most rows matching and read the whole table.
pub(in crate::store) fn open_counts_sql() -> String {
    DeliveryStatus::OPEN
        .iter()
        .map(|status| {
            let state = status.as_str();
            format!(
                "SELECT '{state}', COUNT(*), MIN(created_at) FROM webhook_deliveries \
                 WHERE {STATE} = '{state}'"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The admin page's counts of one tenant's deliveries by state (`?` the tenant, once per
/// state, then the bound of the finished ones, once per finished state): each state one range
/// of `webhook_deliveries_by_state`, the open ones counted whole (what is open, the tenant's
/// backlog), the finished ones up to the bound, in the index's order, so that the planner
/// reads them through it whatever it believes of their number.
pub(in crate::store) fn tenant_counts_sql() -> String {
    let open = DeliveryStatus::OPEN.iter().map(|status| {
        let state = status.as_str();
        format!(
            "SELECT '{state}', (SELECT COUNT(*) FROM webhook_deliveries \
             WHERE {STATE} = '{state}' AND tenant_id = ?)"
        )
    });
    let finished = DeliveryStatus::FINISHED.iter().map(|status| {
        let state = status.as_str();
        format!(
            "SELECT '{state}', (SELECT COUNT(*) FROM (SELECT created_at FROM webhook_deliveries \
             WHERE {STATE} = '{state}' AND tenant_id = ? ORDER BY created_at LIMIT ?) f)"
        )
    });
    open.chain(finished).collect::<Vec<_>>().join(" UNION ALL ")
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
