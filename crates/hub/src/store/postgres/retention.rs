//! Retention of finished deliveries (issue 13 §4) on PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
//! two nodes' maintenance split the work, and the attempts go by one array (the totals for
//! `/metrics` are portable: `store/portable/stats.rs`).

use super::portable::outbox::FINISHED_AT;
use super::PostgresStore;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;

/// The retention's statement: removes at most `$2` finished deliveries that finished before
/// `$1`, oldest first, returning their ids. Through the index of finished deliveries by when
/// they finished (`FINISHED_AT`), which no other statement can use; `SKIP LOCKED` so a batch
/// never waits for a row another transaction holds (and two nodes' maintenance split the work).
#[doc(hidden)]
pub fn prune_sql() -> String {
    format!(
        "DELETE FROM webhook_deliveries WHERE id IN ( \
           SELECT id FROM webhook_deliveries WHERE {FINISHED_AT} IS NOT NULL \
           AND {FINISHED_AT} < $1 ORDER BY {FINISHED_AT} LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id"
    )
}

pub(super) async fn prune_deliveries(
    store: &PostgresStore,
    before: Millis,
    limit: u64,
) -> StoreResult<u64> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let mut tx = store.pool.begin().await?;
    let text = prune_sql();
    let ids: Vec<String> = sqlx::query_scalar(&text)
        .bind(before.0)
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
