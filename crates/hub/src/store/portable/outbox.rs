//! The webhook outbox's portable part, for both backends (compiled once in each: see
//! `portable/mod.rs`): configurations, deliveries queued in the change's transaction, the
//! delivery log's reads, cancel and retry. Claims and attempt records differ per backend
//! (their `webhooks.rs`).

use super::dialect::{announce, sql, Backend, Conn, Db, END_CLAIM, GREATEST, MAX_PARAMS};
use super::{read_all, read_one};
use crate::ids::TenantId;
use crate::records::{
    target_host, Delivery, DeliveryAttempt, DeliveryStatus, Notice, WebhookConfig, WebhookTargets,
};
use crate::rules;
use crate::store::rows::{attempt_from_row, delivery_from_row, subscription_from_row, StoreRow};
use crate::store::{Enqueued, StoreError, StoreResult};
use fastcomments_protocol::{Comment, Millis, WebhookEventKind};
use sqlx::QueryBuilder;

pub(in crate::store) async fn load_webhook_configs(
    conn: &mut Conn,
    tenant: &TenantId,
) -> StoreResult<Vec<WebhookConfig>> {
    let rows = sqlx::query(&sql(
        "SELECT config FROM webhook_configs WHERE tenant_id = ? ORDER BY domain",
    ))
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok(serde_json::from_str(&r.text("config")?)?))
        .collect()
}

/// The tenant's configurations and subscriptions, in the caller's transaction.
pub(in crate::store) async fn load_webhook_targets(
    conn: &mut Conn,
    tenant: &TenantId,
) -> StoreResult<WebhookTargets> {
    let configs = load_webhook_configs(&mut *conn, tenant).await?;
    let rows = sqlx::query(&sql(
        "SELECT * FROM webhook_subscriptions WHERE tenant_id = ? ORDER BY created_at, id",
    ))
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let subscriptions = rows
        .iter()
        .map(subscription_from_row)
        .collect::<StoreResult<_>>()?;
    Ok(WebhookTargets {
        configs,
        subscriptions,
    })
}

/// Queues webhook deliveries for changed comments in the caller's transaction (the outbox),
/// and wakes every node's dispatcher at commit.
pub(in crate::store) async fn enqueue_webhooks(
    conn: &mut Conn,
    tenant: &TenantId,
    targets: &WebhookTargets,
    changes: &[(WebhookEventKind, &Comment, i64)],
    imported: bool,
    now: Millis,
) -> StoreResult<Enqueued> {
    let (rows, unmatched) = rules::webhooks::plan_deliveries(tenant, targets, changes, imported)?;
    let per_row = 19;
    for chunk in rows.chunks(MAX_PARAMS / per_row) {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, config_domain, subscription_id, url, target_host, method, \
             legacy_token, body, status, attempts, max_attempts, next_attempt_at, created_at, updated_at) ",
        );
        qb.push_values(chunk.iter(), |mut b, d| {
            b.push_bind(d.id.as_str())
                .push_bind(tenant.as_str())
                .push_bind(d.comment.id.as_str())
                .push_bind(d.position)
                .push_bind(d.kind.as_str())
                .push_bind(d.comment.domain.as_deref())
                .push_bind(d.config_domain.as_str())
                .push_bind(d.subscription_id.as_str())
                .push_bind(d.url.as_str())
                .push_bind(target_host(&d.url))
                .push_bind(d.method.as_str())
                .push_bind(d.legacy_token)
                .push_bind(&*d.body)
                .push_bind(d.status.as_str())
                .push_bind(0i64)
                .push_bind(0i64)
                .push_bind(now.0)
                .push_bind(now.0)
                .push_bind(now.0);
        });
        qb.build().execute(&mut *conn).await?;
    }
    if !rows.is_empty() {
        announce(conn, &Notice::Deliveries).await?;
    }
    Ok(Enqueued {
        deliveries: rows.len(),
        unmatched,
    })
}

pub(in crate::store) async fn webhook_configs(
    store: &Backend,
    tenant: &TenantId,
) -> StoreResult<Vec<WebhookConfig>> {
    let mut conn = store.reads().acquire().await?;
    load_webhook_configs(&mut conn, tenant).await
}

pub(in crate::store) async fn put_webhook_config(
    store: &Backend,
    tenant: &TenantId,
    config: &WebhookConfig,
    now: Millis,
) -> StoreResult<()> {
    sqlx::query(&sql(
        "INSERT INTO webhook_configs (tenant_id, domain, config, updated_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (tenant_id, domain) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
    ))
    .bind(tenant.as_str())
    .bind(&config.domain)
    .bind(serde_json::to_string(config)?)
    .bind(now.0)
    .execute(store.writes())
    .await?;
    Ok(())
}

pub(in crate::store) async fn next_due_at(
    store: &Backend,
    after: Millis,
) -> StoreResult<Option<Millis>> {
    // A claimed delivery is due again when its claim ends (if nobody records it first).
    let text = format!(
        "SELECT MIN({GREATEST}(next_attempt_at, COALESCE(lease_until, 0))) FROM webhook_deliveries \
         WHERE status IN ('queued', 'retrying') AND {GREATEST}(next_attempt_at, COALESCE(lease_until, 0)) > ?"
    );
    let next: Option<i64> = sqlx::query_scalar(&sql(&text))
        .bind(after.0)
        .fetch_one(store.reads())
        .await?;
    Ok(next.map(Millis))
}

pub(in crate::store) async fn deliveries(
    store: &Backend,
    tenant: &TenantId,
    status: Option<DeliveryStatus>,
    comment_id: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<Delivery>> {
    let mut qb: QueryBuilder<Db> =
        QueryBuilder::new("SELECT * FROM webhook_deliveries WHERE tenant_id = ");
    qb.push_bind(tenant.as_str());
    if let Some(s) = status {
        qb.push(" AND status = ");
        qb.push_bind(s.as_str());
    }
    if let Some(c) = comment_id {
        qb.push(" AND comment_id = ");
        qb.push_bind(c);
    }
    qb.push(" ORDER BY created_at DESC, position DESC LIMIT ");
    qb.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(store.reads()).await?;
    rows.iter().map(delivery_from_row).collect()
}

pub(in crate::store) async fn delivery(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>> {
    let text = "SELECT * FROM webhook_deliveries WHERE tenant_id = ? AND id = ?";
    let Some(d) = read_one(store, text, &[tenant.as_str(), id], delivery_from_row).await? else {
        return Ok(None);
    };
    let text = "SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt";
    let attempts = read_all(store, text, &[id], attempt_from_row).await?;
    Ok(Some((d, attempts)))
}

/// Runs a state change of one delivery (`UPDATE … RETURNING *`, its placeholders `?1` the
/// time, then `extra` if any, then the tenant and the id); when it matched nothing, says
/// whether the delivery is missing or in the wrong state.
async fn change_delivery(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
    text: &str,
    now: Millis,
    extra: Option<i64>,
    wrong_state: &str,
) -> StoreResult<Delivery> {
    let mut tx = store.writes().begin().await?;
    let text = sql(text);
    let mut q = sqlx::query(&text).bind(now.0);
    if let Some(n) = extra {
        q = q.bind(n);
    }
    let row = q
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    match row.as_ref().map(delivery_from_row).transpose()? {
        Some(d) => {
            if d.status.is_pending() {
                // Other nodes' dispatchers wake on it.
                announce(&mut tx, &Notice::Deliveries).await?;
            }
            tx.commit().await?;
            Ok(d)
        }
        None => {
            drop(tx);
            match delivery(store, tenant, id).await? {
                Some((d, _)) => Err(StoreError::Conflict(format!(
                    "{wrong_state}; this one is {}",
                    d.status.as_str()
                ))),
                None => Err(StoreError::NotFound("webhook delivery")),
            }
        }
    }
}

pub(in crate::store) async fn cancel_delivery(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
    now: Millis,
) -> StoreResult<Delivery> {
    change_delivery(
        store,
        tenant,
        id,
        "UPDATE webhook_deliveries SET status = 'cancelled', updated_at = ?1 \
         WHERE tenant_id = ?2 AND id = ?3 AND status IN ('queued', 'retrying', 'paused') RETURNING *",
        now,
        None,
        "only queued, retrying or paused deliveries can be cancelled",
    )
    .await
}

pub(in crate::store) async fn retry_delivery(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
    now: Millis,
    extra_attempts: i64,
) -> StoreResult<Delivery> {
    let text = format!(
        "UPDATE webhook_deliveries SET status = 'queued', next_attempt_at = ?1, updated_at = ?1, \
         max_attempts = attempts + ?2, {END_CLAIM} \
         WHERE tenant_id = ?3 AND id = ?4 AND status IN ('failed', 'cancelled') RETURNING *"
    );
    change_delivery(
        store,
        tenant,
        id,
        &text,
        now,
        Some(extra_attempts),
        "only failed or cancelled deliveries can be retried",
    )
    .await
}
