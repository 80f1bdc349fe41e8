//! Tenants and their API secrets.

use super::*;

pub(super) async fn create_tenant(
    store: &SqliteStore,
    tenant: &Tenant,
    wildcard: &ApiSecret,
) -> StoreResult<()> {
    let mut tx = store.writer.begin().await?;
    // Names of no public site (`localhost`, …) are held by every tenant that names them.
    for domain in tenant
        .domains
        .iter()
        .filter(|d| !crate::site_domain::is_shared_domain(d))
    {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM tenant_domains WHERE domain = ?")
                .bind(domain)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(owner) = owner {
            return Err(StoreError::Conflict(format!(
                "the domain {domain} belongs to tenant {owner}"
            )));
        }
        sqlx::query("INSERT INTO tenant_domains (domain, tenant_id) VALUES (?, ?)")
            .bind(domain)
            .bind(&tenant.id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("INSERT INTO tenants (id, name, domains, created_at) VALUES (?, ?, ?, ?)")
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(serde_json::to_string(&tenant.domains)?)
        .bind(tenant.created_at)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO api_secrets (id, tenant_id, domain, secret, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&wildcard.id)
        .bind(&wildcard.tenant_id)
        .bind(&wildcard.domain)
        .bind(&wildcard.secret)
        .bind(wildcard.created_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn tenant(store: &SqliteStore, id: &str) -> StoreResult<Option<Tenant>> {
    let row = sqlx::query("SELECT * FROM tenants WHERE id = ?")
        .bind(id)
        .fetch_optional(&store.reader)
        .await?;
    row.as_ref().map(tenant_from_row).transpose()
}

pub(super) async fn secret_by_value(
    store: &SqliteStore,
    secret: &str,
) -> StoreResult<Option<ApiSecret>> {
    let row = sqlx::query("SELECT * FROM api_secrets WHERE secret = ?")
        .bind(secret)
        .fetch_optional(&store.reader)
        .await?;
    row.as_ref().map(secret_from_row).transpose()
}

pub(super) async fn list_secrets(store: &SqliteStore, tenant: &str) -> StoreResult<Vec<ApiSecret>> {
    let rows = sqlx::query("SELECT * FROM api_secrets WHERE tenant_id = ? ORDER BY created_at, id")
        .bind(tenant)
        .fetch_all(&store.reader)
        .await?;
    rows.iter().map(secret_from_row).collect()
}

pub(super) async fn add_secret(store: &SqliteStore, s: &ApiSecret) -> StoreResult<()> {
    sqlx::query("INSERT INTO api_secrets (id, tenant_id, domain, secret, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&s.id)
        .bind(&s.tenant_id)
        .bind(&s.domain)
        .bind(&s.secret)
        .bind(s.created_at)
        .execute(&store.writer)
        .await?;
    Ok(())
}

pub(super) async fn delete_secret(
    store: &SqliteStore,
    tenant: &str,
    id: &str,
) -> StoreResult<Option<ApiSecret>> {
    let row = sqlx::query("DELETE FROM api_secrets WHERE tenant_id = ? AND id = ? RETURNING *")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&store.writer)
        .await?;
    row.as_ref().map(secret_from_row).transpose()
}
