//! Retention of finished deliveries (issue 13 §4) on SQLite: it has no arrays and no row
//! locks, so the ids go in chunked bound lists (the totals for `/metrics` are portable:
//! `store/portable/stats.rs`).

use super::portable::outbox::FINISHED_AT;
use super::{SqliteStore, MAX_PARAMS};
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::{QueryBuilder, Sqlite};

/// The retention's read: at most `?2` finished deliveries that finished before `?1`, oldest
/// first, through the index of finished deliveries by when they finished (`FINISHED_AT`),
/// which no other statement can use: a batch reads only what it removes.
pub(super) fn prune_sql() -> String {
    format!(
        "SELECT id FROM webhook_deliveries WHERE {FINISHED_AT} IS NOT NULL \
         AND {FINISHED_AT} < ? ORDER BY {FINISHED_AT} LIMIT ?"
    )
}

pub(super) async fn prune_deliveries(
    store: &SqliteStore,
    before: Millis,
    limit: u64,
) -> StoreResult<u64> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let mut tx = store.writer.begin().await?;
    let text = prune_sql();
    let ids: Vec<String> = sqlx::query_scalar(&text)
        .bind(before.0)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    for chunk in ids.chunks(MAX_PARAMS) {
        for (table, column) in [
            ("webhook_attempts", "delivery_id"),
            ("webhook_deliveries", "id"),
        ] {
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
