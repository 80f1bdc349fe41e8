//! Tenants, their domains and their API secrets, for both backends (compiled once in each:
//! see `portable/mod.rs`).

use super::dialect::{announce, sql, Backend, Conn};
use super::one_in;
use crate::ids::TenantId;
use crate::records::{ApiSecret, Notice, Tenant};
use crate::store::rows::secret_from_row;
use crate::store::{StoreError, StoreResult};

pub(in crate::store) async fn create_tenant(
    store: &Backend,
    tenant: &Tenant,
    wildcard: &ApiSecret,
) -> StoreResult<()> {
    let mut tx = store.writes().begin().await?;
    // Names of no public site (`localhost`, …) are held by every tenant that names them.
    for domain in tenant
        .domains
        .iter()
        .filter(|d| !crate::site_domain::is_shared_domain(d))
    {
        // The primary key makes a concurrent claim of the same domain (on another node) fail.
        let owner: Option<String> = sqlx::query_scalar(&sql(
            "SELECT tenant_id FROM tenant_domains WHERE domain = ?",
        ))
        .bind(domain)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(owner) = owner {
            return Err(StoreError::Conflict(format!(
                "the domain {domain} belongs to tenant {owner}"
            )));
        }
        sqlx::query(&sql(
            "INSERT INTO tenant_domains (domain, tenant_id) VALUES (?, ?)",
        ))
        .bind(domain)
        .bind(tenant.id.as_str())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(&sql(
        "INSERT INTO tenants (id, name, domains, created_at) VALUES (?, ?, ?, ?)",
    ))
    .bind(tenant.id.as_str())
    .bind(&tenant.name)
    .bind(serde_json::to_string(&tenant.domains)?)
    .bind(tenant.created_at)
    .execute(&mut *tx)
    .await?;
    insert_secret(&mut tx, wildcard).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts a secret in the caller's transaction.
pub(super) async fn insert_secret(conn: &mut Conn, s: &ApiSecret) -> StoreResult<()> {
    sqlx::query(&sql(
        "INSERT INTO api_secrets (id, tenant_id, domain, secret, created_at) VALUES (?, ?, ?, ?, ?)",
    ))
    .bind(&s.id)
    .bind(s.tenant_id.as_str())
    .bind(&s.domain)
    .bind(&s.secret)
    .bind(s.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds a secret and tells the other nodes (their secret caches).
pub(in crate::store) async fn add_secret(store: &Backend, s: &ApiSecret) -> StoreResult<()> {
    let mut tx = store.writes().begin().await?;
    insert_secret(&mut tx, s).await?;
    let tenant = s.tenant_id.clone();
    announce(&mut tx, &Notice::Secrets { tenant }).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a secret and tells the other nodes (their secret caches).
pub(in crate::store) async fn delete_secret(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
) -> StoreResult<Option<ApiSecret>> {
    let mut tx = store.writes().begin().await?;
    let delete = "DELETE FROM api_secrets WHERE tenant_id = ? AND id = ? RETURNING *";
    let removed = one_in(&mut tx, delete, &[tenant.as_str(), id], secret_from_row).await?;
    if removed.is_some() {
        let tenant = tenant.to_owned();
        announce(&mut tx, &Notice::Secrets { tenant }).await?;
    }
    tx.commit().await?;
    Ok(removed)
}
