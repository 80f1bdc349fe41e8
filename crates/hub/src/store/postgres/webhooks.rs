//! The webhook outbox on PostgreSQL: configurations, deliveries queued in the change's
//! transaction, claims with a lease, attempt logs, cancel and retry.

use super::*;

pub(super) async fn load_webhook_configs(
    conn: &mut PgConnection,
    tenant: &str,
) -> StoreResult<Vec<WebhookConfig>> {
    let rows =
        sqlx::query("SELECT config FROM webhook_configs WHERE tenant_id = $1 ORDER BY domain")
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| Ok(serde_json::from_str(&r.text("config")?)?))
        .collect()
}

/// The tenant's configurations and subscriptions, in the caller's transaction.
pub(super) async fn load_webhook_targets(
    conn: &mut PgConnection,
    tenant: &str,
) -> StoreResult<WebhookTargets> {
    let configs = load_webhook_configs(&mut *conn, tenant).await?;
    let rows = sqlx::query(
        "SELECT * FROM webhook_subscriptions WHERE tenant_id = $1 ORDER BY created_at, id",
    )
    .bind(tenant)
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

/// Queues the deliveries of changed comments in the caller's transaction (the outbox) and
/// wakes every node's dispatcher at commit.
pub(super) async fn enqueue_webhooks(
    conn: &mut PgConnection,
    tenant: &str,
    targets: &WebhookTargets,
    changes: &[(fastcomments_protocol::WebhookEventKind, &Comment, i64)],
    imported: bool,
    now_ms: i64,
) -> StoreResult<Enqueued> {
    let (rows, unmatched) = rules::webhooks::plan_deliveries(tenant, targets, changes, imported)?;
    // 19 values a row, under PostgreSQL's 65,535 parameters a statement.
    for chunk in rows.chunks(3_000) {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, config_domain, subscription_id, url, \
             target_host, method, legacy_token, body, status, attempts, max_attempts, next_attempt_at, created_at, updated_at) ",
        );
        qb.push_values(chunk.iter(), |mut b, d| {
            b.push_bind(d.id.clone())
                .push_bind(tenant.to_owned())
                .push_bind(d.comment.id.clone())
                .push_bind(d.position)
                .push_bind(d.kind.as_str())
                .push_bind(d.comment.domain.clone())
                .push_bind(d.config_domain.clone())
                .push_bind(d.subscription_id.clone())
                .push_bind(d.url.clone())
                .push_bind(target_host(&d.url))
                .push_bind(d.method.as_str())
                .push_bind(d.legacy_token)
                .push_bind(d.body.to_string())
                .push_bind(d.status.as_str())
                .push_bind(0i64)
                .push_bind(0i64)
                .push_bind(now_ms)
                .push_bind(now_ms)
                .push_bind(now_ms);
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

pub(super) async fn webhook_configs(
    store: &PostgresStore,
    tenant: &str,
) -> StoreResult<Vec<WebhookConfig>> {
    let mut conn = store.pool.acquire().await?;
    load_webhook_configs(&mut conn, tenant).await
}

pub(super) async fn put_webhook_config(
    store: &PostgresStore,
    tenant: &str,
    config: &WebhookConfig,
    now_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_configs (tenant_id, domain, config, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, domain) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
    )
    .bind(tenant)
    .bind(&config.domain)
    .bind(serde_json::to_string(config)?)
    .bind(now_ms)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Claims due deliveries for this node: pending, due, not claimed by a live lease, and with
/// no earlier pending delivery of their comment (per-comment order holds across nodes: an
/// earlier delivery claimed elsewhere is still pending). The pending (host, subscription)
/// pairs are walked with one index seek each (a recursive row-wise MIN, PostgreSQL having no
/// skip scan), so a subscription at its in-flight limit costs one seek, not a walk over its
/// backlog; each pair gives at most `per_host`, then each host keeps its first `per_host`.
/// `SKIP LOCKED` lets nodes claim side by side without waiting on each other.
pub(super) async fn due_deliveries(
    store: &PostgresStore,
    q: &DueQuery<'_>,
) -> StoreResult<Vec<Delivery>> {
    let rows = sqlx::query(
        "WITH RECURSIVE pairs(h, s) AS ( \
           (SELECT target_host, subscription_id FROM webhook_deliveries \
            WHERE status IN ('queued', 'retrying') ORDER BY target_host, subscription_id LIMIT 1) \
           UNION ALL \
           SELECT n.target_host, n.subscription_id FROM pairs CROSS JOIN LATERAL ( \
             SELECT target_host, subscription_id FROM webhook_deliveries \
             WHERE status IN ('queued', 'retrying') AND (target_host, subscription_id) > (pairs.h, pairs.s) \
             ORDER BY target_host, subscription_id LIMIT 1) n), \
         picked AS ( \
           SELECT c.id, pairs.h, c.next_attempt_at, c.position FROM pairs CROSS JOIN LATERAL ( \
             SELECT e.id, e.next_attempt_at, e.position FROM webhook_deliveries e \
             WHERE e.target_host = pairs.h AND e.subscription_id = pairs.s \
               AND e.status IN ('queued', 'retrying') \
               AND e.next_attempt_at <= $1 AND (e.lease_until IS NULL OR e.lease_until <= $1) \
               AND e.id <> ALL($2) AND e.tenant_id <> ALL($3) \
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries f WHERE f.tenant_id = e.tenant_id \
                   AND f.comment_id = e.comment_id AND f.subscription_id = e.subscription_id AND f.position < e.position \
                   AND f.status IN ('queued', 'retrying')) \
             ORDER BY e.next_attempt_at, e.position LIMIT $4 \
             FOR UPDATE SKIP LOCKED) c \
           WHERE pairs.h <> ALL($5) AND pairs.s <> ALL($9)), \
         due AS ( \
           SELECT id FROM (SELECT id, next_attempt_at, position, ROW_NUMBER() OVER \
               (PARTITION BY h ORDER BY next_attempt_at, position) AS n FROM picked) ranked \
           WHERE n <= $4 ORDER BY next_attempt_at, position LIMIT $6) \
         UPDATE webhook_deliveries w SET claimed_by = $7, lease_until = $1 + $8 \
         FROM due WHERE w.id = due.id RETURNING w.*",
    )
    .bind(q.now_ms)
    .bind(q.exclude)
    .bind(q.skip_tenants)
    .bind(i64::try_from(q.per_host).unwrap_or(i64::MAX))
    .bind(q.skip_hosts)
    .bind(i64::try_from(q.limit).unwrap_or(i64::MAX))
    .bind(store.node.as_str())
    .bind(q.lease_ms)
    .bind(q.skip_subscriptions)
    .fetch_all(&store.pool)
    .await?;
    let mut out: Vec<Delivery> = rows
        .iter()
        .map(delivery_from_row)
        .collect::<StoreResult<_>>()?;
    out.sort_by_key(|d| (d.next_attempt_at, d.position));
    Ok(out)
}

/// Gives back this node's claims on `ids`, and wakes the other nodes' dispatchers for them.
pub(super) async fn release_claims(store: &PostgresStore, ids: &[String]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET claimed_by = NULL, lease_until = NULL \
         WHERE id = ANY($1) AND claimed_by = $2",
    )
    .bind(ids)
    .bind(store.node.as_str())
    .execute(&mut *tx)
    .await?;
    announce(&mut tx, &Notice::Deliveries).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn next_due_at(store: &PostgresStore, after_ms: i64) -> StoreResult<Option<i64>> {
    // A claimed delivery is due again when its lease ends (if its node never recorded it).
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) FROM webhook_deliveries \
         WHERE status IN ('queued', 'retrying') AND GREATEST(next_attempt_at, COALESCE(lease_until, 0)) > $1",
    )
    .bind(after_ms)
    .fetch_one(&store.pool)
    .await?;
    Ok(next)
}

/// Logs attempts and moves their deliveries on (releasing the claims), unless a delivery
/// was cancelled meanwhile. Retries are announced, so an idle node's dispatcher can take them.
pub(super) async fn record_attempts(
    store: &PostgresStore,
    outcomes: &[AttemptOutcome],
    now_ms: i64,
) -> StoreResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut tx = store.pool.begin().await?;
    let ids: Vec<&str> = outcomes
        .iter()
        .map(|o| o.attempt.delivery_id.as_str())
        .collect();
    let numbers: Vec<i64> = outcomes.iter().map(|o| o.attempt.attempt).collect();
    let ats: Vec<i64> = outcomes.iter().map(|o| o.attempt.at).collect();
    let urls: Vec<&str> = outcomes.iter().map(|o| o.attempt.url.as_str()).collect();
    let methods: Vec<&str> = outcomes.iter().map(|o| o.attempt.method.as_str()).collect();
    let codes: Vec<Option<i64>> = outcomes.iter().map(|o| o.attempt.status_code).collect();
    let bodies: Vec<Option<&str>> = outcomes
        .iter()
        .map(|o| o.attempt.response_body.as_deref())
        .collect();
    let durations: Vec<i64> = outcomes.iter().map(|o| o.attempt.duration_ms).collect();
    let errors: Vec<Option<&str>> = outcomes
        .iter()
        .map(|o| o.attempt.error.as_deref())
        .collect();
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, url, method, status_code, response_body, duration_ms, error) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::text[]) \
         ON CONFLICT (delivery_id, attempt) DO NOTHING",
    )
    .bind(&ids)
    .bind(&numbers)
    .bind(&ats)
    .bind(&urls)
    .bind(&methods)
    .bind(&codes)
    .bind(&bodies)
    .bind(&durations)
    .bind(&errors)
    .execute(&mut *tx)
    .await?;
    let statuses: Vec<&str> = outcomes.iter().map(|o| o.status.as_str()).collect();
    let next: Vec<i64> = outcomes.iter().map(|o| o.next_attempt_at).collect();
    sqlx::query(
        // An attempt made while its delivery was being cancelled (or paused) still counts (a manual retry
        // then sends the next number), but only a pending delivery moves on.
        "UPDATE webhook_deliveries d SET attempts = GREATEST(d.attempts, v.attempt), \
         status = CASE WHEN d.status IN ('queued', 'retrying') THEN v.status ELSE d.status END, \
         next_attempt_at = CASE WHEN d.status IN ('queued', 'retrying') THEN v.next_at ELSE d.next_attempt_at END, \
         last_error = CASE WHEN d.status IN ('queued', 'retrying') THEN v.err ELSE d.last_error END, \
         updated_at = $6, claimed_by = NULL, lease_until = NULL \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) AS v(id, status, attempt, next_at, err) \
         WHERE d.id = v.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&numbers)
    .bind(&next)
    .bind(&errors)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    super::subscriptions::note_health(&mut tx, outcomes).await?;
    if outcomes.iter().any(|o| o.status.is_pending()) {
        announce(&mut tx, &Notice::Deliveries).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn deliveries(
    store: &PostgresStore,
    tenant: &str,
    status: Option<DeliveryStatus>,
    comment_id: Option<&str>,
    limit: u64,
) -> StoreResult<Vec<Delivery>> {
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT * FROM webhook_deliveries WHERE tenant_id = ");
    qb.push_bind(tenant.to_owned());
    if let Some(s) = status {
        qb.push(" AND status = ");
        qb.push_bind(s.as_str());
    }
    if let Some(c) = comment_id {
        qb.push(" AND comment_id = ");
        qb.push_bind(c.to_owned());
    }
    qb.push(" ORDER BY created_at DESC, position DESC LIMIT ");
    qb.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(&store.pool).await?;
    rows.iter().map(delivery_from_row).collect()
}

pub(super) async fn delivery(
    store: &PostgresStore,
    tenant: &str,
    id: &str,
) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>> {
    let row = sqlx::query("SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    let Some(d) = row.as_ref().map(delivery_from_row).transpose()? else {
        return Ok(None);
    };
    let rows =
        sqlx::query("SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(id)
            .fetch_all(&store.pool)
            .await?;
    let attempts = rows
        .iter()
        .map(attempt_from_row)
        .collect::<StoreResult<_>>()?;
    Ok(Some((d, attempts)))
}

/// Runs a state change of one delivery (`UPDATE … RETURNING *`); when it matched nothing, says
/// whether the delivery is missing or in the wrong state.
async fn change_delivery(
    store: &PostgresStore,
    tenant: &str,
    id: &str,
    sql: &str,
    now_ms: i64,
    extra: Option<i64>,
    wrong_state: &str,
) -> StoreResult<Delivery> {
    let mut tx = store.pool.begin().await?;
    let mut q = sqlx::query(sql).bind(now_ms);
    if let Some(n) = extra {
        q = q.bind(n);
    }
    let row = q.bind(tenant).bind(id).fetch_optional(&mut *tx).await?;
    match row.as_ref().map(delivery_from_row).transpose()? {
        Some(d) => {
            if d.status.is_pending() {
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

pub(super) async fn cancel_delivery(
    store: &PostgresStore,
    tenant: &str,
    id: &str,
    now_ms: i64,
) -> StoreResult<Delivery> {
    change_delivery(
        store,
        tenant,
        id,
        "UPDATE webhook_deliveries SET status = 'cancelled', updated_at = $1 \
         WHERE tenant_id = $2 AND id = $3 AND status IN ('queued', 'retrying', 'paused') RETURNING *",
        now_ms,
        None,
        "only queued, retrying or paused deliveries can be cancelled",
    )
    .await
}

pub(super) async fn retry_delivery(
    store: &PostgresStore,
    tenant: &str,
    id: &str,
    now_ms: i64,
    extra_attempts: i64,
) -> StoreResult<Delivery> {
    change_delivery(
        store,
        tenant,
        id,
        "UPDATE webhook_deliveries SET status = 'queued', next_attempt_at = $1, updated_at = $1, \
         max_attempts = attempts + $2, claimed_by = NULL, lease_until = NULL \
         WHERE tenant_id = $3 AND id = $4 AND status IN ('failed', 'cancelled') RETURNING *",
        now_ms,
        Some(extra_attempts),
        "only failed or cancelled deliveries can be retried",
    )
    .await
}
