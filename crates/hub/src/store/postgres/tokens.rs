//! Integration token rows. Every change is announced, so other nodes drop the token from
//! their caches at once.

use super::*;

const SELECT_TOKEN: &str = "SELECT * FROM integration_tokens WHERE token = $1";

/// Writes every field of a token's record.
pub(super) async fn write_token(conn: &mut PgConnection, r: &TokenRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE integration_tokens SET tenant_id = $1, state = $2, integration_type = $3, domain = $4, \
         skip_requested = $5, acknowledged_at = $6, upload_received = $7, upload_finished = $8, \
         batch_size = $9, setup_completed_at = $10, api_secret_allowed = $12 WHERE token = $11",
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
    .bind(r.token.as_str())
    .bind(r.api_secret_allowed)
    .execute(&mut *conn)
    .await?;
    announce(
        conn,
        &Notice::Token {
            token: r.token.clone(),
        },
    )
    .await
}

pub(super) async fn token(store: &PostgresStore, token: &str) -> StoreResult<Option<TokenRecord>> {
    let row = sqlx::query(SELECT_TOKEN)
        .bind(token)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

pub(super) async fn register_token(
    store: &PostgresStore,
    r: &TokenRecord,
) -> StoreResult<TokenRecord> {
    let mut tx = store.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO integration_tokens (token, tenant_id, state, integration_type, domain, skip_requested, \
         created_at, acknowledged_at, upload_received, upload_finished, batch_size, setup_completed_at, \
         api_secret_allowed, registered_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
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
    .await?
    .rows_affected();
    let row = sqlx::query(SELECT_TOKEN)
        .bind(&r.token)
        .fetch_optional(&mut *tx)
        .await?;
    let stored = row
        .as_ref()
        .map(token_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("token"))?;
    if inserted > 0 {
        announce(
            &mut tx,
            &Notice::Token {
                token: r.token.clone(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(stored)
}

pub(super) async fn list_tokens(
    store: &PostgresStore,
    tenant: &str,
) -> StoreResult<Vec<TokenRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM integration_tokens WHERE tenant_id = $1 ORDER BY created_at, token",
    )
    .bind(tenant)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(token_from_row).collect()
}

pub(super) async fn save_token(
    store: &PostgresStore,
    record: &TokenRecord,
    entry: Option<NewEntry>,
    now_ms: i64,
) -> StoreResult<(TokenRecord, Option<TimelineEntry>)> {
    let mut tx = store.pool.begin().await?;
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

/// Runs one `UPDATE … RETURNING *` on a token, announces it, and returns the record.
async fn update_token(
    store: &PostgresStore,
    sql: &str,
    binds: &[Option<&str>],
    token: &str,
) -> StoreResult<TokenRecord> {
    let mut tx = store.pool.begin().await?;
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    let row = q.bind(token).fetch_optional(&mut *tx).await?;
    let record = row
        .as_ref()
        .map(token_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("token"))?;
    announce(
        &mut tx,
        &Notice::Token {
            token: token.to_owned(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

pub(super) async fn halve_batch_size(
    store: &PostgresStore,
    token: &str,
) -> StoreResult<TokenRecord> {
    update_token(
        store,
        "UPDATE integration_tokens SET batch_size = GREATEST(1, batch_size / 2) WHERE token = $1 RETURNING *",
        &[],
        token,
    )
    .await
}

pub(super) async fn describe_token(
    store: &PostgresStore,
    token: &str,
    integration_type: Option<&str>,
    domain: Option<&str>,
) -> StoreResult<TokenRecord> {
    update_token(
        store,
        "UPDATE integration_tokens SET integration_type = COALESCE(integration_type, $1), \
         domain = COALESCE(domain, $2) WHERE token = $3 RETURNING *",
        &[integration_type, domain],
        token,
    )
    .await
}

pub(super) async fn revoke_token(store: &PostgresStore, token: &str) -> StoreResult<TokenRecord> {
    update_token(
        store,
        "UPDATE integration_tokens SET state = 'revoked' WHERE token = $1 RETURNING *",
        &[],
        token,
    )
    .await
}

pub(super) async fn restart_upload(
    store: &PostgresStore,
    record: &TokenRecord,
) -> StoreResult<TokenRecord> {
    let mut tx = store.pool.begin().await?;
    let mut record = record.clone();
    record.upload_received = 0;
    record.upload_finished = false;
    record.setup_completed_at = None;
    sqlx::query("UPDATE comments SET upload_token = NULL WHERE upload_token = $1")
        .bind(&record.token)
        .execute(&mut *tx)
        .await?;
    write_token(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(record)
}

pub(super) async fn trim_pending_tokens(
    store: &PostgresStore,
    from: &str,
    per_address: u64,
    overall: Option<u64>,
) -> StoreResult<Vec<String>> {
    let mut tx = store.pool.begin().await?;
    let mut removed: Vec<String> = sqlx::query_scalar(
        "DELETE FROM integration_tokens WHERE state = 'pending' AND registered_from = $1 \
         AND token NOT IN (SELECT token FROM integration_tokens \
         WHERE state = 'pending' AND registered_from = $1 ORDER BY created_at DESC LIMIT $2) \
         RETURNING token",
    )
    .bind(from)
    .bind(i64::try_from(per_address).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    if let Some(overall) = overall.filter(|n| *n > 0) {
        let older: Vec<String> = sqlx::query_scalar(
            "DELETE FROM integration_tokens WHERE state = 'pending' AND created_at < \
             (SELECT created_at FROM integration_tokens WHERE state = 'pending' \
             ORDER BY created_at DESC LIMIT 1 OFFSET $1) RETURNING token",
        )
        .bind(i64::try_from(overall - 1).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        removed.extend(older);
    }
    if !removed.is_empty() {
        announce(&mut tx, &Notice::TokensExpired).await?;
    }
    tx.commit().await?;
    Ok(removed)
}

pub(super) async fn delete_expired_pending(
    store: &PostgresStore,
    created_before: i64,
) -> StoreResult<u64> {
    let mut tx = store.pool.begin().await?;
    let done =
        sqlx::query("DELETE FROM integration_tokens WHERE state = 'pending' AND created_at < $1")
            .bind(created_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if done > 0 {
        announce(&mut tx, &Notice::TokensExpired).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Whether the token exists (an upload's first check), without locking it.
pub(super) async fn token_exists(conn: &mut PgConnection, token: &str) -> StoreResult<Option<()>> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM integration_tokens WHERE token = $1")
            .bind(token)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.map(|_| ()))
}

/// Adds an upload batch's progress to a token (an increment: concurrent batches of one token
/// each add theirs) and marks the upload finished when `finishes`; returns the record after.
pub(super) async fn add_progress(
    conn: &mut PgConnection,
    token: &str,
    received: i64,
    finishes: bool,
) -> StoreResult<TokenRecord> {
    let row = sqlx::query(
        "UPDATE integration_tokens SET upload_received = upload_received + $1, \
         upload_finished = upload_finished OR $2 WHERE token = $3 RETURNING *",
    )
    .bind(received)
    .bind(finishes)
    .bind(token)
    .fetch_optional(&mut *conn)
    .await?;
    let record = row
        .as_ref()
        .map(token_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("token"))?;
    announce(
        conn,
        &Notice::Token {
            token: token.to_owned(),
        },
    )
    .await?;
    Ok(record)
}
