//! Tenants, their domains and their API secrets.

use super::*;

pub(super) async fn create_tenant(
    store: &PostgresStore,
    tenant: &Tenant,
    wildcard: &ApiSecret,
) -> StoreResult<()> {
    let mut tx = store.pool.begin().await?;
    // Names of no public site (`localhost`, …) are held by every tenant that names them.
    for domain in tenant
        .domains
        .iter()
        .filter(|d| !crate::site_domain::is_shared_domain(d))
    {
        // The primary key makes a concurrent claim of the same domain fail on one node.
        let owner: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM tenant_domains WHERE domain = $1")
                .bind(domain)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(owner) = owner {
            return Err(StoreError::Conflict(format!(
                "the domain {domain} belongs to tenant {owner}"
            )));
        }
        sqlx::query("INSERT INTO tenant_domains (domain, tenant_id) VALUES ($1, $2)")
            .bind(domain)
            .bind(&tenant.id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("INSERT INTO tenants (id, name, domains, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(serde_json::to_string(&tenant.domains)?)
        .bind(tenant.created_at)
        .execute(&mut *tx)
        .await?;
    insert_secret(&mut tx, wildcard).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_secret(conn: &mut PgConnection, s: &ApiSecret) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_secrets (id, tenant_id, domain, secret, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&s.id)
    .bind(&s.tenant_id)
    .bind(&s.domain)
    .bind(&s.secret)
    .bind(s.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn tenant(store: &PostgresStore, id: &str) -> StoreResult<Option<Tenant>> {
    let row = sqlx::query("SELECT * FROM tenants WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(tenant_from_row).transpose()
}

pub(super) async fn secret_by_value(
    store: &PostgresStore,
    secret: &str,
) -> StoreResult<Option<ApiSecret>> {
    let row = sqlx::query("SELECT * FROM api_secrets WHERE secret = $1")
        .bind(secret)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(secret_from_row).transpose()
}

pub(super) async fn list_secrets(
    store: &PostgresStore,
    tenant: &str,
) -> StoreResult<Vec<ApiSecret>> {
    let rows =
        sqlx::query("SELECT * FROM api_secrets WHERE tenant_id = $1 ORDER BY created_at, id")
            .bind(tenant)
            .fetch_all(&store.pool)
            .await?;
    rows.iter().map(secret_from_row).collect()
}

pub(super) async fn add_secret(store: &PostgresStore, s: &ApiSecret) -> StoreResult<()> {
    let mut tx = store.pool.begin().await?;
    insert_secret(&mut tx, s).await?;
    announce(
        &mut tx,
        &Notice::Secrets {
            tenant: s.tenant_id.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_secret(
    store: &PostgresStore,
    tenant: &str,
    id: &str,
) -> StoreResult<Option<ApiSecret>> {
    let mut tx = store.pool.begin().await?;
    let row = sqlx::query("DELETE FROM api_secrets WHERE tenant_id = $1 AND id = $2 RETURNING *")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let removed = row.as_ref().map(secret_from_row).transpose()?;
    if removed.is_some() {
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
