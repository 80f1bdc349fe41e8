//! Outbox totals by state for `/metrics` (issue 13 §4) and a tenant's for the admin page, for
//! both backends (compiled once in each: see `portable/mod.rs`).

use super::dialect::Backend;
use crate::records::{DeliveryCounts, DeliveryStatus, WebhookStats};
use crate::store::StoreResult;

/// A delivery's state as `webhook_deliveries_by_state` holds it, with the tenant and the
/// creation time after it: spelled as in its migration, and named by no statement but the
/// counts by state and the logs' reads of pending or unsent states (`listing.rs`), so no
/// claim or stream read is planned through that index (a partial index whose predicate a
/// claim implies was a claim's way on stale statistics: migration 17).
pub(in crate::store) const STATE: &str = "(status || '')";

/// The predicate of `webhook_deliveries_by_state`, spelled as in its migration: every
/// delivery not sent (waiting, paused, failed for good, cancelled). A sent one's new version
/// enters no entry into it, so a record costs nothing there. Each statement that reads the
/// index says it in its `WHERE` (SQLite uses a partial index only for a statement that
/// names its condition).
pub(in crate::store) const UNSENT: &str = "(status || '') <> 'succeeded'";

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
                 WHERE {STATE} = '{state}' AND {UNSENT}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The admin page's counts of one tenant's deliveries (`?` the tenant once per unsent state,
/// then the tenant and the bound of the sent ones plus one): a row per unsent state, each one
/// range of `webhook_deliveries_by_state`; then `all`, the tenant's deliveries counted in
/// `webhook_deliveries_by_tenant` up to the unsent ones plus that bound. A sent delivery is in
/// no index by state (each record would pay for it), so the sent ones are `all` less the
/// unsent ones, and at the limit there are more than the bound: what a poll reads is the
/// tenant's unsent deliveries twice and at most the bound of its sent ones, not the month of
/// them the retention keeps. One statement, so one snapshot on either backend.
pub(in crate::store) fn tenant_counts_sql() -> String {
    let unsent = DeliveryStatus::UNSENT
        .iter()
        .map(|status| {
            let state = status.as_str();
            format!(
                "SELECT '{state}', (SELECT COUNT(*) FROM webhook_deliveries \
                 WHERE {STATE} = '{state}' AND {UNSENT} AND tenant_id = ?)"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!(
        "WITH unsent(state, n) AS ({unsent}) \
         SELECT state, n FROM unsent UNION ALL \
         SELECT 'all', (SELECT COUNT(*) FROM (SELECT created_at FROM webhook_deliveries \
           WHERE tenant_id = ? ORDER BY created_at \
           LIMIT ? + (SELECT CAST(SUM(n) AS BIGINT) FROM unsent)) a)"
    )
}

/// A tenant's counts from [`tenant_counts_sql`]'s rows, sent ones up to `sent_up_to` (more
/// as one more).
pub(in crate::store) fn tenant_counts(rows: &[(String, i64)], sent_up_to: u64) -> DeliveryCounts {
    let mut counts = DeliveryCounts::default();
    let (mut unsent, mut all) = (0u64, 0u64);
    for (state, n) in rows {
        let n = u64::try_from(*n).unwrap_or(0);
        match DeliveryStatus::parse(state) {
            Some(s) => {
                counts.add(s, n);
                unsent = unsent.saturating_add(n);
            }
            None => all = n,
        }
    }
    let limit = unsent.saturating_add(sent_up_to).saturating_add(1);
    counts.succeeded = if all >= limit {
        sent_up_to.saturating_add(1)
    } else {
        all.saturating_sub(unsent)
    };
    counts
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
