//! Flags on comments (the hosted API's flag and un-flag), for both backends (compiled once in
//! each: see `portable/mod.rs`). A flag is one row per comment and flagger; the count is
//! counted, never kept, so it cannot drift from the rows.

use super::dialect::{read_comment, sql, Backend, MAX_PARAMS};
use crate::ids::TenantId;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::Row as _;
use std::collections::HashMap;

/// Flags (`flagged`) or un-flags comment `id` for `flagger`; the comment's flag count after,
/// or `None` when the tenant has no such comment. Flagging twice, or un-flagging what was not
/// flagged, changes nothing.
pub(in crate::store) async fn set_flag(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
    flagger: &str,
    flagged: bool,
    now: Millis,
) -> StoreResult<Option<u64>> {
    let mut tx = store.writes().begin().await?;
    // Read with the row lock a change takes: a comment deleted meanwhile is not flagged.
    if read_comment(&mut tx, tenant, id, true).await?.is_none() {
        return Ok(None);
    }
    if flagged {
        sqlx::query(&sql(
            "INSERT INTO comment_flags (comment_id, flagger, tenant_id, created_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (comment_id, flagger) DO NOTHING",
        ))
        .bind(id)
        .bind(flagger)
        .bind(tenant.as_str())
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query(&sql(
            "DELETE FROM comment_flags WHERE comment_id = ? AND flagger = ? AND tenant_id = ?",
        ))
        .bind(id)
        .bind(flagger)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    }
    let n: i64 = sqlx::query_scalar(&sql(
        "SELECT COUNT(*) FROM comment_flags WHERE comment_id = ? AND tenant_id = ?",
    ))
    .bind(id)
    .bind(tenant.as_str())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(n.max(0) as u64))
}

/// How many users flagged each of the comments `ids` (those never flagged are left out).
pub(in crate::store) async fn flag_counts(
    store: &Backend,
    tenant: &TenantId,
    ids: &[&str],
) -> StoreResult<HashMap<String, u64>> {
    let mut counts = HashMap::new();
    for chunk in ids.chunks(MAX_PARAMS / 2) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let text = format!(
            "SELECT comment_id, COUNT(*) AS n FROM comment_flags \
             WHERE tenant_id = ? AND comment_id IN ({marks}) GROUP BY comment_id"
        );
        let text = sql(&text);
        let mut query = sqlx::query(&text).bind(tenant.as_str());
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(store.reads()).await? {
            let n: i64 = row.try_get("n")?;
            counts.insert(row.try_get("comment_id")?, n.max(0) as u64);
        }
    }
    Ok(counts)
}
