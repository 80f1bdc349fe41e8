//! Retention of finished deliveries (issue 13 §4) on SQLite: it has no arrays and no row
//! locks, so the ids go in chunked bound lists (the totals for `/metrics` are portable:
//! `store/portable/stats.rs`).

use super::{SqliteStore, MAX_PARAMS};
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::{QueryBuilder, Sqlite};

pub(super) async fn prune_deliveries(
    store: &SqliteStore,
    before: Millis,
    limit: u64,
) -> StoreResult<u64> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let mut tx = store.writer.begin().await?;
    // Through the partial index of finished deliveries: a batch reads only what it removes.
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'cancelled') \
         AND updated_at < ? ORDER BY updated_at LIMIT ?",
    )
    .bind(before.0)
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
