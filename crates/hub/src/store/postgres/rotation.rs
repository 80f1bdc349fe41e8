//! Secret rotation with overlap (issue 13 §3): the new secret and the old one's retirement in
//! one transaction; maintenance removes what is due, and
//! tells the other nodes (their secret caches).

use super::*;

pub(super) async fn rotate_secret(
    store: &PostgresStore,
    tenant: &str,
    old_id: &str,
    new: &ApiSecret,
    retires_at: i64,
) -> StoreResult<(ApiSecret, ApiSecret)> {
    let mut tx = store.pool.begin().await?;
    let row = sqlx::query("SELECT * FROM api_secrets WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(old_id)
        .fetch_optional(&mut *tx)
        .await?;
    let old = row
        .as_ref()
        .map(secret_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("API secret"))?;
    let retiring: Option<i64> =
        sqlx::query_scalar("SELECT retires_at FROM api_secret_retirements WHERE secret_id = $1")
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
    sqlx::query(
        "INSERT INTO api_secrets (id, tenant_id, domain, secret, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&new.id)
    .bind(&new.tenant_id)
    .bind(&new.domain)
    .bind(&new.secret)
    .bind(new.created_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO api_secret_retirements (secret_id, tenant_id, retires_at) VALUES ($1, $2, $3)",
    )
    .bind(old_id)
    .bind(tenant)
    .bind(retires_at)
    .execute(&mut *tx)
    .await?;
    announce(
        &mut tx,
        &Notice::Secrets {
            tenant: tenant.to_owned(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((old, new))
}

pub(super) async fn secret_retirements(
    store: &PostgresStore,
    tenant: &str,
) -> StoreResult<Vec<SecretRetirement>> {
    let rows = sqlx::query(
        "SELECT s.*, r.retires_at FROM api_secret_retirements r JOIN api_secrets s ON s.id = r.secret_id \
         WHERE r.tenant_id = $1 ORDER BY r.retires_at, s.id",
    )
    .bind(tenant)
    .fetch_all(&store.pool)
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

pub(super) async fn retire_secrets(
    store: &PostgresStore,
    now_ms: i64,
) -> StoreResult<Vec<ApiSecret>> {
    let mut tx = store.pool.begin().await?;
    let rows = sqlx::query(
        "DELETE FROM api_secrets WHERE id IN \
         (SELECT secret_id FROM api_secret_retirements WHERE retires_at <= $1) RETURNING *",
    )
    .bind(now_ms)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM api_secret_retirements WHERE retires_at <= $1")
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    let removed: Vec<ApiSecret> = rows
        .iter()
        .map(secret_from_row)
        .collect::<StoreResult<_>>()?;
    let mut tenants: Vec<&str> = removed.iter().map(|s| s.tenant_id.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        announce(
            &mut tx,
            &Notice::Secrets {
                tenant: tenant.to_owned(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(removed)
}
