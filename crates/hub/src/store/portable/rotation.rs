//! Secret rotation with overlap (issue 13 §3), for both backends (compiled once in each: see
//! `portable/mod.rs`): the new secret and the old one's retirement in one transaction;
//! maintenance removes what is due and tells the other nodes (their secret caches).

use super::dialect::{announce, sql, Backend};
use super::one_in;
use crate::ids::TenantId;
use crate::records::{ApiSecret, Notice, SecretRetirement};
use crate::store::rows::{records, secret_from_row};
use crate::store::{StoreError, StoreResult};
use fastcomments_protocol::Millis;
use sqlx::Row;

pub(in crate::store) async fn rotate_secret(
    store: &Backend,
    tenant: &TenantId,
    old_id: &str,
    new: &ApiSecret,
    retires_at: Millis,
) -> StoreResult<(ApiSecret, ApiSecret)> {
    let mut tx = store.writes().begin().await?;
    let select = "SELECT * FROM api_secrets WHERE tenant_id = ? AND id = ?";
    let old = one_in(&mut tx, select, &[tenant.as_str(), old_id], secret_from_row)
        .await?
        .ok_or(StoreError::NotFound("API secret"))?;
    let retiring: Option<i64> = sqlx::query_scalar(&sql(
        "SELECT retires_at FROM api_secret_retirements WHERE secret_id = ?",
    ))
    .bind(old_id)
    .fetch_optional(&mut *tx)
    .await?;
    if retiring.is_some() {
        return Err(StoreError::Conflict(
            "this secret is already being retired".into(),
        ));
    }
    let new = ApiSecret {
        tenant_id: tenant.to_owned(),
        domain: old.domain.clone(),
        ..new.clone()
    };
    super::tenants::insert_secret(&mut tx, &new).await?;
    sqlx::query(&sql(
        "INSERT INTO api_secret_retirements (secret_id, tenant_id, retires_at) VALUES (?, ?, ?)",
    ))
    .bind(old_id)
    .bind(tenant.as_str())
    .bind(retires_at.0)
    .execute(&mut *tx)
    .await?;
    let tenant = tenant.to_owned();
    announce(&mut tx, &Notice::Secrets { tenant }).await?;
    tx.commit().await?;
    Ok((old, new))
}

pub(in crate::store) async fn secret_retirements(
    store: &Backend,
    tenant: &TenantId,
) -> StoreResult<Vec<SecretRetirement>> {
    let rows = sqlx::query(&sql(
        "SELECT s.*, r.retires_at FROM api_secret_retirements r JOIN api_secrets s ON s.id = r.secret_id \
         WHERE r.tenant_id = ? ORDER BY r.retires_at, s.id",
    ))
    .bind(tenant.as_str())
    .fetch_all(store.reads())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SecretRetirement {
                secret: secret_from_row(r)?,
                retires_at: r.try_get("retires_at")?,
            })
        })
        .collect()
}

pub(in crate::store) async fn retire_secrets(
    store: &Backend,
    now: Millis,
) -> StoreResult<Vec<ApiSecret>> {
    let mut tx = store.writes().begin().await?;
    let rows = sqlx::query(&sql(
        "DELETE FROM api_secrets WHERE id IN \
         (SELECT secret_id FROM api_secret_retirements WHERE retires_at <= ?) RETURNING *",
    ))
    .bind(now.0)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(&sql(
        "DELETE FROM api_secret_retirements WHERE retires_at <= ?",
    ))
    .bind(now.0)
    .execute(&mut *tx)
    .await?;
    let removed = records(&rows, secret_from_row)?;
    let mut tenants: Vec<&TenantId> = removed.iter().map(|s| &s.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let tenant = tenant.clone();
        announce(&mut tx, &Notice::Secrets { tenant }).await?;
    }
    tx.commit().await?;
    Ok(removed)
}
