//! Import records, for both backends (compiled once in each: see `portable/mod.rs`).

use super::dialect::{lock_tenant_imports, sql, Backend, Conn};
use crate::ids::TenantId;
use crate::records::ImportRecord;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;

/// Stores (or replaces) an import's record.
pub(in crate::store) async fn save_import(
    store: &Backend,
    record: &ImportRecord,
) -> StoreResult<()> {
    let mut tx = store.writes().begin().await?;
    write_record(&mut tx, record).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores (or replaces) `record` in the caller's transaction.
async fn write_record(conn: &mut Conn, record: &ImportRecord) -> StoreResult<()> {
    sqlx::query(&sql(
        "INSERT INTO imports (id, tenant_id, created_at, doc) VALUES (?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
    ))
    .bind(&record.id)
    .bind(record.tenant_id.as_str())
    .bind(record.created_at)
    .bind(serde_json::to_string(record)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores `record` unless another import of its tenant runs (its record changed at or after
/// `fresh_since`), which it answers instead. The check and the insert are one transaction,
/// under a lock of the tenant's imports (on SQLite the one writer is that lock).
pub(in crate::store) async fn start_import(
    store: &Backend,
    record: &ImportRecord,
    fresh_since: Millis,
) -> StoreResult<Option<ImportRecord>> {
    let mut tx = store.writes().begin().await?;
    lock_tenant_imports(&mut tx, &record.tenant_id).await?;
    let docs: Vec<String> = sqlx::query_scalar(&sql(
        "SELECT doc FROM imports WHERE tenant_id = ? ORDER BY created_at DESC, id DESC LIMIT 20",
    ))
    .bind(record.tenant_id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    for doc in docs {
        let other: ImportRecord = serde_json::from_str(&doc)?;
        if other.runs_since(fresh_since.0) {
            return Ok(Some(other));
        }
    }
    write_record(&mut tx, record).await?;
    tx.commit().await?;
    Ok(None)
}

/// The tenant's imports, newest first, at most `limit`; or the one `id`.
pub(in crate::store) async fn imports(
    store: &Backend,
    tenant: &TenantId,
    id: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<ImportRecord>> {
    let one = if id.is_some() { " AND id = ?" } else { "" };
    let text = format!(
        "SELECT doc FROM imports WHERE tenant_id = ?{one} ORDER BY created_at DESC, id DESC LIMIT ?"
    );
    let text = sql(&text);
    let mut query = sqlx::query_scalar::<_, String>(&text).bind(tenant.as_str());
    if let Some(id) = id {
        query = query.bind(id);
    }
    let docs = query
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(store.reads())
        .await?;
    docs.iter().map(|d| Ok(serde_json::from_str(d)?)).collect()
}
