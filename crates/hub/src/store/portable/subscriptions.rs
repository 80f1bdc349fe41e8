//! Webhook subscriptions (issue 13 §1, §2), for both backends (compiled once in each: see
//! `portable/mod.rs`): create once per identical form, list, remove, disable (their pending
//! deliveries wait as `paused`) and enable (queued again, in order).

use super::dialect::{announce, id_list, sql, Backend, Conn, Db, END_CLAIM, ID_LIST};
use super::one_in;
use super::outbox::TARGET;
use crate::ids::TenantId;
use crate::records::{AttemptOutcome, DeliveryStatus, Notice, Subscription, MAX_SUBSCRIPTIONS};
use crate::store::rows::subscription_from_row;
use crate::store::{StoreError, StoreResult};
use fastcomments_protocol::Millis;
use sqlx::query::Query;
use sqlx::Database;

fn kinds_json(s: &Subscription) -> StoreResult<String> {
    let kinds: Vec<&str> = s.kinds.iter().map(|k| k.as_str()).collect();
    Ok(serde_json::to_string(&kinds)?)
}

/// A subscription's form as stored: its method (`""` for none), kinds and domains as JSON.
struct Form {
    method: &'static str,
    kinds: String,
    domains: String,
}

/// Binds what makes two subscriptions the same: tenant, URL, method, kinds, domains and
/// imports, in that order.
fn bind_form<'q>(
    q: Query<'q, Db, <Db as Database>::Arguments<'q>>,
    s: &'q Subscription,
    form: &'q Form,
) -> Query<'q, Db, <Db as Database>::Arguments<'q>> {
    q.bind(s.tenant_id.as_str())
        .bind(&s.url)
        .bind(form.method)
        .bind(&form.kinds)
        .bind(&form.domains)
        .bind(s.fire_on_import)
}

pub(in crate::store) async fn create_subscription(
    store: &Backend,
    s: &Subscription,
) -> StoreResult<(Subscription, bool)> {
    let form = Form {
        method: s.method.map_or("", |m| m.as_str()),
        kinds: kinds_json(s)?,
        domains: serde_json::to_string(&s.domains)?,
    };
    let mut tx = store.writes().begin().await?;
    let text = sql(
        "SELECT * FROM webhook_subscriptions WHERE tenant_id = ? AND url = ? AND method = ? \
         AND kinds = ? AND domains = ? AND fire_on_import = ? ORDER BY created_at, id LIMIT 1",
    );
    let same = bind_form(sqlx::query(&text), s, &form)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(row) = same {
        return Ok((subscription_from_row(&row)?, false));
    }
    let count: i64 = sqlx::query_scalar(&sql(
        "SELECT COUNT(*) FROM webhook_subscriptions WHERE tenant_id = ?",
    ))
    .bind(s.tenant_id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if count as usize >= MAX_SUBSCRIPTIONS {
        return Err(StoreError::Conflict(format!(
            "a tenant has at most {MAX_SUBSCRIPTIONS} webhook subscriptions"
        )));
    }
    let text = sql(
        "INSERT INTO webhook_subscriptions (tenant_id, url, method, kinds, domains, fire_on_import, id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    bind_form(sqlx::query(&text), s, &form)
        .bind(&s.id)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let stored = Subscription {
        failing_since: None,
        disabled_at: None,
        disabled_reason: None,
        ..s.clone()
    };
    Ok((stored, true))
}

pub(in crate::store) async fn delete_subscription(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
    now: Millis,
) -> StoreResult<Option<Subscription>> {
    let mut tx = store.writes().begin().await?;
    let delete = "DELETE FROM webhook_subscriptions WHERE tenant_id = ? AND id = ? RETURNING *";
    let removed = one_in(
        &mut tx,
        delete,
        &[tenant.as_str(), id],
        subscription_from_row,
    )
    .await?;
    if removed.is_some() {
        // Nobody wants them any more; their log stays. Every waiting delivery of its streams
        // ends here, so no head is left to settle.
        let text = format!(
            "UPDATE webhook_deliveries SET status = 'cancelled', updated_at = ?, {END_CLAIM} \
             WHERE tenant_id = ? AND {TARGET} = ? AND status IN ('queued', 'retrying', 'paused')"
        );
        sqlx::query(&sql(&text))
            .bind(now.0)
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// Disables or enables one subscription and moves its waiting deliveries with it, in the
/// caller's transaction.
async fn set_enabled_in(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    enabled: bool,
    reason: Option<&str>,
    now: Millis,
) -> StoreResult<Option<Subscription>> {
    let row = if enabled {
        sqlx::query(&sql(
            "UPDATE webhook_subscriptions SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL \
             WHERE tenant_id = ? AND id = ? RETURNING *",
        ))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query(&sql(
            "UPDATE webhook_subscriptions SET disabled_at = COALESCE(disabled_at, ?), disabled_reason = ? \
             WHERE tenant_id = ? AND id = ? RETURNING *",
        ))
        .bind(now.0)
        .bind(reason)
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    };
    let Some(sub) = row.as_ref().map(subscription_from_row).transpose()? else {
        return Ok(None);
    };
    // Paused deliveries keep their attempts, positions and `ready` (a paused one still waits
    // in its stream, see `outbox.rs`): enabled, each stream's head goes first, in order.
    let text = if enabled {
        format!(
            "UPDATE webhook_deliveries SET status = CASE WHEN attempts > 0 THEN 'retrying' ELSE 'queued' END, \
             next_attempt_at = ?, updated_at = ? WHERE tenant_id = ? AND {TARGET} = ? AND status = 'paused'"
        )
    } else {
        format!(
            "UPDATE webhook_deliveries SET status = 'paused', next_attempt_at = ?, updated_at = ?, {END_CLAIM} \
             WHERE tenant_id = ? AND {TARGET} = ? AND status IN ('queued', 'retrying')"
        )
    };
    // By tenant and target: `webhook_deliveries_of_target` (see `TARGET`).
    sqlx::query(&sql(&text))
        .bind(now.0)
        .bind(now.0)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(sub))
}

pub(in crate::store) async fn set_subscription_enabled(
    store: &Backend,
    tenant: &TenantId,
    id: &str,
    enabled: bool,
    reason: Option<&str>,
    now: Millis,
) -> StoreResult<Subscription> {
    let mut tx = store.writes().begin().await?;
    let sub = set_enabled_in(&mut tx, tenant, id, enabled, reason, now)
        .await?
        .ok_or(StoreError::NotFound("webhook subscription"))?;
    if enabled {
        // Its deliveries are due again: other nodes' dispatchers wake on it.
        announce(&mut tx, &Notice::Deliveries).await?;
    }
    tx.commit().await?;
    Ok(sub)
}

pub(in crate::store) async fn disable_failing_subscriptions(
    store: &Backend,
    failing_before: Millis,
    now: Millis,
) -> StoreResult<Vec<Subscription>> {
    let mut tx = store.writes().begin().await?;
    let due: Vec<(String, String, i64)> = sqlx::query_as(&sql(
        "SELECT tenant_id, id, failing_since FROM webhook_subscriptions \
         WHERE disabled_at IS NULL AND failing_since IS NOT NULL AND failing_since <= ?",
    ))
    .bind(failing_before.0)
    .fetch_all(&mut *tx)
    .await?;
    let mut disabled = Vec::new();
    for (tenant, id, since) in due {
        let reason = format!(
            "every attempt failed for {} s (since {since} ms after the epoch)",
            (now.0 - since).max(0) / 1000
        );
        let tenant = TenantId::from(tenant);
        if let Some(s) = set_enabled_in(&mut tx, &tenant, &id, false, Some(&reason), now).await? {
            disabled.push(s);
        }
    }
    tx.commit().await?;
    Ok(disabled)
}

/// Notes attempts' outcomes on their subscriptions, in the caller's transaction: a 2xx ends
/// its subscription's failing streak, any other outcome starts one if none runs.
pub(in crate::store) async fn note_health(
    conn: &mut Conn,
    outcomes: &[AttemptOutcome],
) -> StoreResult<()> {
    let (ok, failed): (Vec<&AttemptOutcome>, Vec<&AttemptOutcome>) = outcomes
        .iter()
        .partition(|o| o.status == DeliveryStatus::Succeeded);
    // Failures first: a batch with both leaves the subscription healthy.
    for (group, healthy) in [(&failed, false), (&ok, true)] {
        let Some(first) = group.iter().map(|o| o.attempt.at).min() else {
            continue;
        };
        let ids: Vec<&str> = group
            .iter()
            .map(|o| o.attempt.delivery_id.as_str())
            .collect();
        set_failing_since(conn, &ids, healthy, first).await?;
    }
    Ok(())
}

/// Ends (`healthy`) or starts (from `first`, unless one runs) the failing streak of the
/// subscriptions of the deliveries `ids`. Only rows whose streak changes are written: most
/// records find a healthy subscription healthy. The ids are one parameter ([`ID_LIST`]), so
/// this is one statement text whatever the batch.
async fn set_failing_since(
    conn: &mut Conn,
    ids: &[&str],
    healthy: bool,
    first: i64,
) -> StoreResult<()> {
    let text = format!(
        "UPDATE webhook_subscriptions SET failing_since = CASE WHEN ? THEN NULL ELSE ? END \
         WHERE (failing_since IS NULL) = NOT ? AND id IN (SELECT subscription_id \
         FROM webhook_deliveries WHERE subscription_id <> '' AND id IN ({ID_LIST}))"
    );
    sqlx::query(&sql(&text))
        .bind(healthy)
        .bind(first)
        .bind(healthy)
        .bind(id_list(ids)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
