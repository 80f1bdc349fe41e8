//! The webhook outbox's portable part, for both backends (compiled once in each: see
//! `portable/mod.rs`): configurations, deliveries queued in the change's transaction, each
//! stream's ready head, the delivery log's reads, cancel and retry. Claims and attempt records
//! differ per backend (their `webhooks.rs`).
//!
//! **Ready heads.** A comment's deliveries to one subscription (or to the per-domain
//! configurations, which count as one) form a stream, sent in position order. The delivery at
//! the least position among the stream's waiting ones (queued, retrying or paused) is its head
//! and carries `ready`; the others do not. So a claim reads ready rows through one partial index
//! and checks no order at all: what it costs does not depend on how full the outbox is or on
//! the planner's statistics. Every write that changes which deliveries of a stream wait keeps
//! the flag in the same transaction: queuing sets it (ready iff nothing of the stream waits),
//! ending a delivery (sent, failed for good, cancelled) and retrying one by hand call
//! [`settle_heads`]. Pausing and enabling a subscription change no head: a paused delivery
//! keeps its place, so the stream resumes in order. Pruning removes only ended deliveries.
//! On PostgreSQL the writers of one stream first lock its unfinished rows
//! (`lock_streams`, `lock_new_streams` of the dialect), so two of them never decide the head
//! from snapshots that miss each other's change.

use super::dialect::{
    announce, id_list, lock_new_streams, lock_streams, sql, Backend, Conn, Db, END_CLAIM, ID_LIST,
    MAX_PARAMS, STREAMS_BY_LATERAL,
};
use super::{read_all, read_one};
use crate::ids::TenantId;
use crate::records::{
    target_host, Delivery, DeliveryAttempt, DeliveryFilter, DeliveryStatus, Notice, WebhookConfig,
    WebhookTargets,
};
use crate::rules;
use crate::store::rows::{
    attempt_from_row, delivery_from_row, records, subscription_from_row, unsent_position, StoreRow,
};
use crate::store::{Enqueued, StoreError, StoreResult};
use fastcomments_protocol::{Comment, Millis, WebhookEventKind};
use sqlx::QueryBuilder;
use std::collections::HashMap;
use std::sync::LazyLock;

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
    let subscriptions = records(&rows, subscription_from_row)?;
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
    if rows.is_empty() {
        return Ok(Enqueued {
            deliveries: 0,
            unmatched,
        });
    }
    // A row is ready when it starts its stream here (the first of its (comment, subscription),
    // or a twin at the same position: one change matching two configurations) and nothing of
    // the stream waits; a later one of this call waits behind them.
    let firsts = first_positions(rows.iter().map(|d| {
        (
            d.comment.id.as_str(),
            d.subscription_id.as_str(),
            d.position,
        )
    }));
    let streams: Vec<(&str, &str)> = firsts.keys().copied().collect();
    let waiting = Waiting::lock(conn, tenant, &streams).await?;
    let heads: Vec<bool> = rows
        .iter()
        .map(|d| {
            let (c, s) = (d.comment.id.as_str(), d.subscription_id.as_str());
            firsts[&(c, s)] == d.position && waiting.first(c, s).is_none()
        })
        .collect();
    let per_row = 22;
    for (chunk, heads) in rows
        .chunks(MAX_PARAMS / per_row)
        .zip(heads.chunks(MAX_PARAMS / per_row))
    {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, config_domain, subscription_id, url, target_host, method, \
             legacy_token, body, status, attempts, max_attempts, next_attempt_at, created_at, updated_at, ready) ",
        );
        qb.push_values(chunk.iter().zip(heads), |mut b, (d, head)| {
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
                .push_bind(now.0)
                .push_bind(*head);
        });
        qb.build().execute(&mut *conn).await?;
    }
    announce(conn, &Notice::Deliveries).await?;
    Ok(Enqueued {
        deliveries: rows.len(),
        unmatched,
    })
}

/// The first position of each stream (comment, subscription) among `rows`, given in position
/// order: where what a call queues in the stream starts.
pub(in crate::store) fn first_positions<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
) -> HashMap<(&'a str, &'a str), i64> {
    let mut firsts = HashMap::new();
    for (comment, subscription, position) in rows {
        firsts.entry((comment, subscription)).or_insert(position);
    }
    firsts
}

/// The streams deliveries are about to be queued in, as the dialect's `lock_new_streams`
/// found them (locked on PostgreSQL): the earliest waiting position of each that has a
/// delivery waiting. The new rows' `ready` flags are set from it, so an insert of a page of
/// deliveries carries no check per row (one subquery each, which PostgreSQL planned anew for
/// every statement: seconds for a large upload or recover).
pub(in crate::store) struct Waiting(Vec<(String, String, i64)>);

impl Waiting {
    /// Locks (PostgreSQL) and reads the tenant's `streams` (comment, subscription).
    pub(in crate::store) async fn lock(
        conn: &mut Conn,
        tenant: &TenantId,
        streams: &[(&str, &str)],
    ) -> StoreResult<Self> {
        let mut firsts = lock_new_streams(conn, tenant, streams).await?;
        // Sorted here, in Rust's order: the database's collation may sort text otherwise.
        firsts.sort_unstable();
        Ok(Self(firsts))
    }

    /// The earliest waiting position of the stream, `None` when nothing of it waits.
    pub(in crate::store) fn first(&self, comment: &str, subscription: &str) -> Option<i64> {
        self.0
            .binary_search_by(|(c, s, _)| (c.as_str(), s.as_str()).cmp(&(comment, subscription)))
            .ok()
            .map(|i| self.0[i].2)
    }
}

/// A delivery still waiting in its stream (a paused one keeps its place).
pub(in crate::store) const WAITING: &str = "status IN ('queued', 'retrying', 'paused')";

/// A delivery's target (its subscription, `''` for the configurations) as the index of a
/// target's deliveries by position, `webhook_deliveries_of_target`, holds it: statements that
/// walk a target (a recover, pausing or removing a subscription) name it this way. An
/// expression, not the column, so that the lookups of one comment's stream (tenant, comment,
/// subscription) find no index but the stream's to use: with no statistics yet, PostgreSQL
/// priced an index over (tenant, subscription) like the stream's and took it,
/// a walk over the whole target's deliveries for each stream a record settled.
pub(in crate::store) const TARGET: &str = "(subscription_id || '')";

/// Whether a waiting delivery `s` is its stream's head: none of the stream waits at an
/// earlier position. One range of the stream's index per delivery (see [`settle_heads_sql`]).
fn is_head() -> String {
    let m = unsent_position("m");
    format!(
        "s.position = (SELECT MIN(m.position) FROM webhook_deliveries m \
         WHERE m.tenant_id = s.tenant_id AND m.comment_id = s.comment_id \
         AND m.subscription_id = s.subscription_id AND {m} IS NOT NULL \
         AND m.status IN ('queued', 'retrying', 'paused'))"
    )
}

/// [`settle_heads`]'s statement, its list of ids one parameter ([`ID_LIST`]): one text
/// whatever the batch, prepared once per connection (a text per count of ids was planned
/// afresh at every record on PostgreSQL, and turned SQLite's cache of prepared statements
/// over). Each stream is found, and its head checked, through the stream's index: on
/// PostgreSQL `webhook_deliveries_unsent_by_stream`, one comment's unsent deliveries of one
/// stream ([`unsent_position`]); on SQLite `webhook_deliveries_by_stream`, all of them (see
/// `unsent_position` for why). An index that named fewer of the stream's columns could lose the
/// planner's choice to one over a whole target's deliveries (SQLite took the recover index,
/// and a settle read every delivery of the tenant's stream: over a second each on 20,000), and
/// so could one over the same number of them (PostgreSQL with no statistics yet): the index of
/// a target's deliveries is over an expression the stream's lookups do not name ([`TARGET`]).
///
/// On PostgreSQL each stream named is looked up on its own, a lateral lookup
/// ([`STREAMS_BY_LATERAL`]): as a join, statistics of a drained outbox (no delivery unsent)
/// made it read every unsent delivery and then look its stream up in the list, at every
/// record (`claim_costs::records_after_statistics_of_a_drained_outbox_read_their_streams`).
/// The lookup ends in `OFFSET 0` because PostgreSQL pulls a plain lateral subquery up into
/// the join, and would plan that join again.
pub(in crate::store) fn settle_heads_sql() -> String {
    let unsent = unsent_position("s");
    let head = is_head();
    if STREAMS_BY_LATERAL {
        format!(
            "UPDATE webhook_deliveries SET ready = NOT ready WHERE id IN (SELECT s.id \
             FROM (SELECT DISTINCT k.tenant_id, k.comment_id, k.subscription_id \
             FROM webhook_deliveries k WHERE k.id IN ({ID_LIST})) k \
             CROSS JOIN LATERAL (SELECT s.id, s.tenant_id, s.comment_id, s.subscription_id, \
             s.position, s.ready FROM webhook_deliveries s WHERE s.tenant_id = k.tenant_id \
             AND s.comment_id = k.comment_id AND s.subscription_id = k.subscription_id \
             AND {unsent} IS NOT NULL AND s.{WAITING} OFFSET 0) s \
             WHERE s.ready <> ({head}))"
        )
    } else {
        format!(
            "UPDATE webhook_deliveries SET ready = NOT ready WHERE id IN (SELECT s.id \
             FROM webhook_deliveries k JOIN webhook_deliveries s ON s.tenant_id = k.tenant_id \
             AND s.comment_id = k.comment_id AND s.subscription_id = k.subscription_id \
             WHERE {unsent} IS NOT NULL AND s.{WAITING} AND s.ready <> ({head}) \
             AND k.id IN ({ID_LIST}))"
        )
    }
}

/// [`settle_heads_sql`] in the backend's parameters, built once (a record runs it).
static SETTLE_HEADS: LazyLock<String> = LazyLock::new(|| sql(&settle_heads_sql()).into_owned());

/// Makes the streams of the deliveries `ids` right again after a write that changed which of
/// them wait (ended ones, retried ones): each stream's head is ready, its other waiting
/// deliveries are not. In the caller's transaction, after the change; on PostgreSQL after
/// [`lock_streams`] of the same ids, before the change. Touches only rows whose flag changes;
/// returns how many did.
pub(in crate::store) async fn settle_heads(conn: &mut Conn, ids: &[&str]) -> StoreResult<u64> {
    Ok(sqlx::query(SETTLE_HEADS.as_str())
        .bind(id_list(ids)?)
        .execute(&mut *conn)
        .await?
        .rows_affected())
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

/// A ready delivery's due instant, null for every other delivery: the expression
/// `webhook_deliveries_next_ready` is built over (and partial on), spelled as in its migration.
/// No other statement names it, so no other statement can be planned through that index, and
/// [`next_due_at`], which names nothing else, through no other index.
pub(in crate::store) const NEXT_READY: &str =
    "(CASE WHEN ready AND status IN ('queued', 'retrying') THEN next_attempt_at END)";

/// When a sent or cancelled delivery finished, null for every other delivery: the expression
/// `webhook_deliveries_finished_at` is built over (and partial on), spelled as in its
/// migration. Only the retention names it, so a tenant's log filtered by a finished state
/// cannot be planned through that index: over `updated_at` with `status IN ('succeeded',
/// 'cancelled')` as its predicate, on statistics taken while every delivery waited, it looked
/// empty and PostgreSQL walked every tenant's finished deliveries for one tenant's page.
pub(in crate::store) const FINISHED_AT: &str =
    "(CASE WHEN status IN ('succeeded', 'cancelled') THEN updated_at END)";

/// [`next_due_at`]'s statement: the first ready delivery's due instant past `?`.
pub(in crate::store) fn next_due_sql() -> String {
    format!(
        "SELECT {NEXT_READY} FROM webhook_deliveries WHERE {NEXT_READY} IS NOT NULL \
         AND {NEXT_READY} > ? ORDER BY {NEXT_READY} LIMIT 1"
    )
}

pub(in crate::store) async fn next_due_at(
    store: &Backend,
    after: Millis,
) -> StoreResult<Option<Millis>> {
    // Only ready ones count: the others are claimed after a write that makes them ready, which
    // wakes the dispatcher. The first entry of `webhook_deliveries_next_ready` past `after`,
    // not a walk over the outbox. Claims are not in it: a claim that ends without a record
    // (its node stopped) is found by a dispatcher's next look, at least once a second, and
    // leaving the lease out of every index lets PostgreSQL write a claim in place. As an
    // `ORDER BY … LIMIT 1`, one entry read whatever the planner thinks the index holds (a
    // `MIN` over few estimated rows was planned as a read of all of them).
    let next: Option<i64> = sqlx::query_scalar(&sql(&next_due_sql()))
        .bind(after.0)
        .fetch_optional(store.reads())
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
    let filter = DeliveryFilter {
        status,
        comment_id,
        limit,
        ..DeliveryFilter::default()
    };
    super::listing::find_deliveries(store, tenant, &filter).await
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
    lock_streams(&mut tx, &[id]).await?;
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
        Some(_) => {
            // Cancelled, it hands its stream on; retried, it is the head again if it is the
            // earliest waiting one (and a later one, not yet sent, waits for it again).
            settle_heads(&mut tx, &[id]).await?;
            let row = sqlx::query(&sql("SELECT * FROM webhook_deliveries WHERE id = ?"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let d = delivery_from_row(&row)?;
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
