//! The admin pages' reads and bulk retry, for both backends (compiled once in each: see
//! `portable/mod.rs`).

use super::dialect::{announce, lock_streams, sql, Backend, Db, END_CLAIM};
use super::outbox::settle_heads;
use super::stats::{STATE, UNSENT};
use crate::ids::TenantId;
use crate::records::{Delivery, DeliveryCounts, DeliveryFilter, DeliveryStatus, Notice};
use crate::store::rows::delivery_from_row;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::QueryBuilder;

/// `WHERE` and the filter's conditions, after `qb`'s `FROM webhook_deliveries`.
fn push_filter<'a>(qb: &mut QueryBuilder<'a, Db>, tenant: &'a TenantId, f: &DeliveryFilter<'a>) {
    qb.push(" WHERE tenant_id = ").push_bind(tenant.as_str());
    if let Some(s) = f.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(k) = f.kind {
        qb.push(" AND kind = ").push_bind(k.as_str());
    }
    if let Some(c) = f.comment_id {
        qb.push(" AND comment_id = ").push_bind(c);
    }
    if let Some(d) = f.domain {
        qb.push(" AND (domain = ").push_bind(d);
        qb.push(" OR config_domain = ").push_bind(d).push(")");
    }
    if let Some(d) = f.reach {
        // The domain itself or a subdomain; LIKE's own characters in a name are escaped.
        let escaped = d
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(" AND (domain = ").push_bind(d);
        qb.push(" OR domain LIKE ")
            .push_bind(format!("%.{escaped}"))
            .push(" ESCAPE '\\')");
    }
    if let Some(e) = f.external_id {
        qb.push(" AND comment_id IN (SELECT id FROM comments WHERE tenant_id = ")
            .push_bind(tenant.as_str())
            .push(" AND external_id = ")
            .push_bind(e)
            .push(")");
    }
    if let Some(n) = f.attempts_over {
        qb.push(" AND attempts > ").push_bind(n);
    }
    match f.by_subscription {
        Some(true) => qb.push(" AND subscription_id <> ''"),
        Some(false) => qb.push(" AND subscription_id = ''"),
        None => qb,
    };
}

/// The order of a delivery log: newest first.
const NEWEST_FIRST: &str = " ORDER BY created_at DESC, position DESC, id DESC";

/// The states whose ranges of `webhook_deliveries_by_state` (with the tenant) hold what `f`
/// asks for: the pending ones, or the one unsent state it names; none when it asks for sent
/// ones or any state (those read the tenant's deliveries, `webhook_deliveries_by_tenant`,
/// newest first). Filtered by state over the tenant's deliveries, a page walked them newest
/// first until it found what it shows (all of them, a month of sent ones, when what it asks
/// for is older than they are), and a count read them all.
fn ranges(f: &DeliveryFilter<'_>) -> &'static [DeliveryStatus] {
    if f.pending {
        return &DeliveryStatus::PENDING;
    }
    let unsent: &'static [DeliveryStatus] = &DeliveryStatus::UNSENT;
    let i = f.status.and_then(|s| unsent.iter().position(|u| *u == s));
    i.map_or(&[], |i| &unsent[i..=i])
}

/// `f`'s deliveries from `webhook_deliveries` with `state`'s condition after `f`'s.
fn push_one_state<'a>(
    qb: &mut QueryBuilder<'a, Db>,
    tenant: &'a TenantId,
    f: &DeliveryFilter<'a>,
    state: DeliveryStatus,
) {
    push_filter(qb, tenant, f);
    qb.push(format!(" AND {STATE} = '{}' AND {UNSENT}", state.as_str()));
}

/// The statement of [`find_deliveries`].
pub(in crate::store) fn find_query<'a>(
    tenant: &'a TenantId,
    f: &DeliveryFilter<'a>,
) -> QueryBuilder<'a, Db> {
    let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
    let offset = i64::try_from(f.offset).unwrap_or(i64::MAX);
    let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT * FROM ");
    let states = ranges(f);
    if !states.is_empty() {
        // Each state's newest in its own range, in that range's order; then merged.
        qb.push("(");
        for (i, state) in states.iter().copied().enumerate() {
            if i > 0 {
                qb.push(" UNION ALL ");
            }
            qb.push("SELECT * FROM (SELECT * FROM webhook_deliveries");
            push_one_state(&mut qb, tenant, f, state);
            qb.push(NEWEST_FIRST)
                .push(" LIMIT ")
                .push_bind(limit.saturating_add(offset))
                .push(") s");
        }
        qb.push(") p");
    } else {
        qb.push("webhook_deliveries");
        push_filter(&mut qb, tenant, f);
    }
    qb.push(NEWEST_FIRST).push(" LIMIT ").push_bind(limit);
    qb.push(" OFFSET ").push_bind(offset);
    qb
}

pub(in crate::store) async fn find_deliveries(
    store: &Backend,
    tenant: &TenantId,
    f: &DeliveryFilter<'_>,
) -> StoreResult<Vec<Delivery>> {
    let rows = find_query(tenant, f)
        .build()
        .fetch_all(store.reads())
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

/// The statement of [`count_deliveries`].
pub(in crate::store) fn count_query<'a>(
    tenant: &'a TenantId,
    f: &DeliveryFilter<'a>,
) -> QueryBuilder<'a, Db> {
    let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT ");
    let states = ranges(f);
    if !states.is_empty() {
        for (i, state) in states.iter().copied().enumerate() {
            if i > 0 {
                qb.push(" + ");
            }
            qb.push("(SELECT COUNT(*) FROM webhook_deliveries");
            push_one_state(&mut qb, tenant, f, state);
            qb.push(")");
        }
    } else {
        qb.push("COUNT(*) FROM webhook_deliveries");
        push_filter(&mut qb, tenant, f);
    }
    qb
}

pub(in crate::store) async fn count_deliveries(
    store: &Backend,
    tenant: &TenantId,
    f: &DeliveryFilter<'_>,
) -> StoreResult<u64> {
    let n: i64 = count_query(tenant, f)
        .build_query_scalar()
        .fetch_one(store.reads())
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(in crate::store) async fn delivery_counts(
    store: &Backend,
    tenant: &TenantId,
    sent_up_to: u64,
) -> StoreResult<DeliveryCounts> {
    let text = super::stats::tenant_counts_sql();
    let text = sql(&text);
    let mut q = sqlx::query_as::<_, (String, i64)>(&text);
    for _ in DeliveryStatus::UNSENT {
        q = q.bind(tenant.as_str());
    }
    // The bound plus one: whether there are more.
    let limit = i64::try_from(sent_up_to.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = q
        .bind(tenant.as_str())
        .bind(limit)
        .fetch_all(store.reads())
        .await?;
    Ok(super::stats::tenant_counts(&rows, sent_up_to))
}

pub(in crate::store) async fn retry_failed_since(
    store: &Backend,
    tenant: &TenantId,
    since: Millis,
    now: Millis,
    extra_attempts: i64,
) -> StoreResult<u64> {
    let mut tx = store.writes().begin().await?;
    // The streams of what will be retried are locked first (on PostgreSQL), as for one retry.
    let failed: Vec<String> = sqlx::query_scalar(&sql(
        "SELECT id FROM webhook_deliveries WHERE tenant_id = ? AND status = 'failed' AND updated_at >= ?",
    ))
    .bind(tenant.as_str())
    .bind(since.0)
    .fetch_all(&mut *tx)
    .await?;
    if failed.is_empty() {
        return Ok(0);
    }
    let failed: Vec<&str> = failed.iter().map(String::as_str).collect();
    lock_streams(&mut tx, &failed).await?;
    let text = format!(
        "UPDATE webhook_deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ?, \
         max_attempts = attempts + ?, {END_CLAIM} \
         WHERE tenant_id = ? AND status = 'failed' AND updated_at >= ? RETURNING id"
    );
    let retried: Vec<String> = sqlx::query_scalar(&sql(&text))
        .bind(now.0)
        .bind(now.0)
        .bind(extra_attempts)
        .bind(tenant.as_str())
        .bind(since.0)
        .fetch_all(&mut *tx)
        .await?;
    if !retried.is_empty() {
        // Each is its stream's head again when it is the earliest waiting one.
        let ids: Vec<&str> = retried.iter().map(String::as_str).collect();
        settle_heads(&mut tx, &ids).await?;
        // Other nodes' dispatchers wake on it, as after a single retry.
        announce(&mut tx, &Notice::Deliveries).await?;
    }
    tx.commit().await?;
    Ok(retried.len() as u64)
}
