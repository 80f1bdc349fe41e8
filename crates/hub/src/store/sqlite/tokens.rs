//! Integration token rows.

use super::*;

pub(super) async fn write_token(conn: &mut SqliteConnection, r: &TokenRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE integration_tokens SET tenant_id = ?, state = ?, integration_type = ?, domain = ?, \
         skip_requested = ?, acknowledged_at = ?, upload_received = ?, upload_finished = ?, \
         batch_size = ?, setup_completed_at = ?, api_secret_allowed = ? WHERE token = ?",
    )
    .bind(r.tenant_id.as_deref())
    .bind(r.state.as_str())
    .bind(r.integration_type.as_deref())
    .bind(r.domain.as_deref())
    .bind(r.skip_requested)
    .bind(r.acknowledged_at)
    .bind(r.upload_received)
    .bind(r.upload_finished)
    .bind(r.batch_size)
    .bind(r.setup_completed_at)
    .bind(r.api_secret_allowed)
    .bind(r.token.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn read_token(
    conn: &mut SqliteConnection,
    token: &str,
) -> StoreResult<Option<TokenRecord>> {
    let row = sqlx::query("SELECT * FROM integration_tokens WHERE token = ?")
        .bind(token)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

pub(super) async fn token(store: &SqliteStore, token: &str) -> StoreResult<Option<TokenRecord>> {
    let row = sqlx::query("SELECT * FROM integration_tokens WHERE token = ?")
        .bind(token)
        .fetch_optional(&store.reader)
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

pub(super) async fn register_token(
    store: &SqliteStore,
    r: &TokenRecord,
) -> StoreResult<TokenRecord> {
    let mut tx = store.writer.begin().await?;
    sqlx::query(
        "INSERT INTO integration_tokens (token, tenant_id, state, integration_type, domain, skip_requested, \
         created_at, acknowledged_at, upload_received, upload_finished, batch_size, setup_completed_at, \
         api_secret_allowed, registered_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (token) DO NOTHING",
    )
    .bind(&r.token)
    .bind(r.tenant_id.as_deref())
    .bind(r.state.as_str())
    .bind(r.integration_type.as_deref())
    .bind(r.domain.as_deref())
    .bind(r.skip_requested)
    .bind(r.created_at)
    .bind(r.acknowledged_at)
    .bind(r.upload_received)
    .bind(r.upload_finished)
    .bind(r.batch_size)
    .bind(r.setup_completed_at)
    .bind(r.api_secret_allowed)
    .bind(r.registered_from.as_deref())
    .execute(&mut *tx)
    .await?;
    let stored = read_token(&mut tx, &r.token)
        .await?
        .ok_or(StoreError::NotFound("token"))?;
    tx.commit().await?;
    Ok(stored)
}

pub(super) async fn list_tokens(
    store: &SqliteStore,
    tenant: &str,
) -> StoreResult<Vec<TokenRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM integration_tokens WHERE tenant_id = ? ORDER BY created_at, token",
    )
    .bind(tenant)
    .fetch_all(&store.reader)
    .await?;
    rows.iter().map(token_from_row).collect()
}

pub(super) async fn save_token(
    store: &SqliteStore,
    record: &TokenRecord,
    entry: Option<NewEntry>,
    now_ms: i64,
) -> StoreResult<(TokenRecord, Option<TimelineEntry>)> {
    let mut tx = store.writer.begin().await?;
    let mut record = record.clone();
    let mut written = None;
    if let Some(entry) = entry {
        let tenant = record.tenant_id.clone().ok_or_else(|| {
            StoreError::Invalid("a timeline entry needs the token's tenant".into())
        })?;
        let mut entries = append_entries(&mut tx, &tenant, vec![entry], now_ms).await?;
        let e = entries
            .pop()
            .ok_or_else(|| StoreError::Database("entry not appended".into()))?;
        record.setup_completed_at = Some(e.created_at);
        written = Some(e);
    }
    write_token(&mut tx, &record).await?;
    tx.commit().await?;
    Ok((record, written))
}

pub(super) async fn halve_batch_size(store: &SqliteStore, token: &str) -> StoreResult<TokenRecord> {
    let row = sqlx::query(
        "UPDATE integration_tokens SET batch_size = MAX(1, batch_size / 2) WHERE token = ? RETURNING *",
    )
    .bind(token)
    .fetch_optional(&store.writer)
    .await?;
    row.as_ref()
        .map(token_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("token"))
}

pub(super) async fn revoke_token(store: &SqliteStore, token: &str) -> StoreResult<TokenRecord> {
    let row =
        sqlx::query("UPDATE integration_tokens SET state = 'revoked' WHERE token = ? RETURNING *")
            .bind(token)
            .fetch_optional(&store.writer)
            .await?;
    row.as_ref()
        .map(token_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("token"))
}

pub(super) async fn restart_upload(
    store: &SqliteStore,
    record: &TokenRecord,
) -> StoreResult<TokenRecord> {
    let mut tx = store.writer.begin().await?;
    let mut record = record.clone();
    record.upload_received = 0;
    record.upload_finished = false;
    record.setup_completed_at = None;
    sqlx::query("UPDATE comments SET upload_token = NULL WHERE upload_token = ?")
        .bind(&record.token)
        .execute(&mut *tx)
        .await?;
    write_token(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(record)
}

pub(super) async fn delete_expired_pending(
    store: &SqliteStore,
    created_before: i64,
) -> StoreResult<u64> {
    let done =
        sqlx::query("DELETE FROM integration_tokens WHERE state = 'pending' AND created_at < ?")
            .bind(created_before)
            .execute(&store.writer)
            .await?;
    Ok(done.rows_affected())
}

pub(super) async fn trim_pending_tokens(
    store: &SqliteStore,
    from: &str,
    per_address: u64,
    overall: Option<u64>,
) -> StoreResult<Vec<String>> {
    let mut tx = store.writer.begin().await?;
    // The address's pending tokens through `integration_tokens_pending`: about the cap.
    let mut removed: Vec<String> = sqlx::query_scalar(
        "DELETE FROM integration_tokens WHERE state = 'pending' AND registered_from = ?1 \
         AND token NOT IN (SELECT token FROM integration_tokens \
         WHERE state = 'pending' AND registered_from = ?1 ORDER BY created_at DESC LIMIT ?2) \
         RETURNING token",
    )
    .bind(from)
    .bind(i64::try_from(per_address).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    if let Some(overall) = overall.filter(|n| *n > 0) {
        // Everything older than the `overall`-th newest, found by walking the age index.
        let older: Vec<String> = sqlx::query_scalar(
            "DELETE FROM integration_tokens WHERE state = 'pending' AND created_at < \
             (SELECT created_at FROM integration_tokens WHERE state = 'pending' \
             ORDER BY created_at DESC LIMIT 1 OFFSET ?1) RETURNING token",
        )
        .bind(i64::try_from(overall - 1).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        removed.extend(older);
    }
    tx.commit().await?;
    Ok(removed)
}

pub(super) async fn describe_token(
    store: &SqliteStore,
    token: &str,
    integration_type: Option<&str>,
    domain: Option<&str>,
) -> StoreResult<TokenRecord> {
    let row = sqlx::query(
        "UPDATE integration_tokens SET integration_type = COALESCE(integration_type, ?), \
         domain = COALESCE(domain, ?) WHERE token = ? RETURNING *",
    )
    .bind(integration_type)
    .bind(domain)
    .bind(token)
    .fetch_optional(&store.writer)
    .await?;
    row.as_ref()
        .map(token_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("token"))
}
