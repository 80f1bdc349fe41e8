//! Integration token rows, for both backends (compiled once in each: see `portable/mod.rs`).
//! Every change is announced, so other nodes (PostgreSQL) drop the token from their caches at
//! once.

use super::dialect::{announce, sql, Backend, Conn, Db, GREATEST};
use super::one_in;
use super::timeline_log::append_entries;
use crate::ids::TenantId;
use crate::records::{IntegrationToken, NewEntry, Notice, TimelineEntry, TokenRecord};
use crate::store::rows::{returned_token, token_from_row};
use crate::store::{StoreError, StoreResult};
use fastcomments_protocol::Millis;
use sqlx::query::Query;
use sqlx::Database;

/// Binds the fields a token's record may change, then its token, in that order (the columns
/// of [`write_token`], and the first ones of [`register_token`]).
fn bind_record<'q>(
    q: Query<'q, Db, <Db as Database>::Arguments<'q>>,
    r: &'q TokenRecord,
) -> Query<'q, Db, <Db as Database>::Arguments<'q>> {
    q.bind(r.tenant_id.as_ref().map(TenantId::as_str))
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
}

/// Writes every field of a token's record, in the caller's transaction.
pub(in crate::store) async fn write_token(conn: &mut Conn, r: &TokenRecord) -> StoreResult<()> {
    let text = sql(
        "UPDATE integration_tokens SET tenant_id = ?, state = ?, integration_type = ?, domain = ?, \
         skip_requested = ?, acknowledged_at = ?, upload_received = ?, upload_finished = ?, \
         batch_size = ?, setup_completed_at = ?, api_secret_allowed = ? WHERE token = ?",
    );
    bind_record(sqlx::query(&text), r)
        .execute(&mut *conn)
        .await?;
    let token = r.token.clone();
    announce(conn, &Notice::Token { token }).await
}

/// A token's record, in the caller's transaction.
pub(in crate::store) async fn read_token(
    conn: &mut Conn,
    token: &IntegrationToken,
) -> StoreResult<Option<TokenRecord>> {
    let select = "SELECT * FROM integration_tokens WHERE token = ?";
    one_in(conn, select, &[token.as_str()], token_from_row).await
}

pub(in crate::store) async fn register_token(
    store: &Backend,
    r: &TokenRecord,
) -> StoreResult<TokenRecord> {
    let mut tx = store.writes().begin().await?;
    let text = sql(
        "INSERT INTO integration_tokens (tenant_id, state, integration_type, domain, skip_requested, \
         acknowledged_at, upload_received, upload_finished, batch_size, setup_completed_at, \
         api_secret_allowed, token, created_at, registered_from) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING",
    );
    let inserted = bind_record(sqlx::query(&text), r)
        .bind(r.created_at)
        .bind(r.registered_from.as_deref())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let stored = read_token(&mut tx, &r.token)
        .await?
        .ok_or(StoreError::NotFound("token"))?;
    if inserted > 0 {
        let token = r.token.clone();
        announce(&mut tx, &Notice::Token { token }).await?;
    }
    tx.commit().await?;
    Ok(stored)
}

pub(in crate::store) async fn save_token(
    store: &Backend,
    record: &TokenRecord,
    entry: Option<NewEntry>,
    now: Millis,
) -> StoreResult<(TokenRecord, Option<TimelineEntry>)> {
    let mut tx = store.writes().begin().await?;
    let mut record = record.clone();
    let mut written = None;
    if let Some(entry) = entry {
        let tenant = record.tenant_id.clone().ok_or_else(|| {
            StoreError::Invalid("a timeline entry needs the token's tenant".into())
        })?;
        let mut entries = append_entries(&mut tx, &tenant, vec![entry], now).await?;
        let e = entries
            .pop()
            .ok_or_else(|| StoreError::database("entry not appended"))?;
        record.setup_completed_at = Some(e.created_at);
        written = Some(e);
    }
    write_token(&mut tx, &record).await?;
    tx.commit().await?;
    Ok((record, written))
}

/// Runs one `UPDATE … RETURNING *` on a token (`binds`, then the token, in that order),
/// announces it, and returns the record.
async fn update_token(
    store: &Backend,
    text: &str,
    binds: &[Option<&str>],
    token: &IntegrationToken,
) -> StoreResult<TokenRecord> {
    let mut tx = store.writes().begin().await?;
    let text = sql(text);
    let mut q = sqlx::query(&text);
    for b in binds {
        q = q.bind(*b);
    }
    let row = q.bind(token.as_str()).fetch_optional(&mut *tx).await?;
    let record = returned_token(row.as_ref())?;
    let token = token.to_owned();
    announce(&mut tx, &Notice::Token { token }).await?;
    tx.commit().await?;
    Ok(record)
}

pub(in crate::store) async fn halve_batch_size(
    store: &Backend,
    token: &IntegrationToken,
) -> StoreResult<TokenRecord> {
    let text = format!(
        "UPDATE integration_tokens SET batch_size = {GREATEST}(1, batch_size / 2) \
         WHERE token = ? RETURNING *"
    );
    update_token(store, &text, &[], token).await
}

pub(in crate::store) async fn describe_token(
    store: &Backend,
    token: &IntegrationToken,
    integration_type: Option<&str>,
    domain: Option<&str>,
) -> StoreResult<TokenRecord> {
    update_token(
        store,
        "UPDATE integration_tokens SET integration_type = COALESCE(integration_type, ?), \
         domain = COALESCE(domain, ?) WHERE token = ? RETURNING *",
        &[integration_type, domain],
        token,
    )
    .await
}

pub(in crate::store) async fn revoke_token(
    store: &Backend,
    token: &IntegrationToken,
) -> StoreResult<TokenRecord> {
    update_token(
        store,
        "UPDATE integration_tokens SET state = 'revoked' WHERE token = ? RETURNING *",
        &[],
        token,
    )
    .await
}

pub(in crate::store) async fn restart_upload(
    store: &Backend,
    record: &TokenRecord,
) -> StoreResult<TokenRecord> {
    let mut tx = store.writes().begin().await?;
    let mut record = record.clone();
    record.upload_received = 0;
    record.upload_finished = false;
    record.setup_completed_at = None;
    sqlx::query(&sql(
        "UPDATE comments SET upload_token = NULL WHERE upload_token = ?",
    ))
    .bind(record.token.as_str())
    .execute(&mut *tx)
    .await?;
    write_token(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(record)
}

pub(in crate::store) async fn delete_expired_pending(
    store: &Backend,
    created_before: Millis,
) -> StoreResult<u64> {
    let mut tx = store.writes().begin().await?;
    let done = sqlx::query(&sql(
        "DELETE FROM integration_tokens WHERE state = 'pending' AND created_at < ?",
    ))
    .bind(created_before.0)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done > 0 {
        announce(&mut tx, &Notice::TokensExpired).await?;
    }
    tx.commit().await?;
    Ok(done)
}

pub(in crate::store) async fn trim_pending_tokens(
    store: &Backend,
    from: &str,
    per_address: u64,
    overall: Option<u64>,
) -> StoreResult<Vec<IntegrationToken>> {
    let mut tx = store.writes().begin().await?;
    // The address's pending tokens through `integration_tokens_pending`: about the cap.
    let mut removed: Vec<String> = sqlx::query_scalar(&sql(
        "DELETE FROM integration_tokens WHERE state = 'pending' AND registered_from = ?1 \
         AND token NOT IN (SELECT token FROM integration_tokens \
         WHERE state = 'pending' AND registered_from = ?1 ORDER BY created_at DESC LIMIT ?2) \
         RETURNING token",
    ))
    .bind(from)
    .bind(i64::try_from(per_address).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    if let Some(overall) = overall.filter(|n| *n > 0) {
        // Everything older than the `overall`-th newest, found by walking the age index.
        let older: Vec<String> = sqlx::query_scalar(&sql(
            "DELETE FROM integration_tokens WHERE state = 'pending' AND created_at < \
             (SELECT created_at FROM integration_tokens WHERE state = 'pending' \
             ORDER BY created_at DESC LIMIT 1 OFFSET ?1) RETURNING token",
        ))
        .bind(i64::try_from(overall - 1).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        removed.extend(older);
    }
    if !removed.is_empty() {
        announce(&mut tx, &Notice::TokensExpired).await?;
    }
    tx.commit().await?;
    Ok(removed.into_iter().map(IntegrationToken::from).collect())
}
