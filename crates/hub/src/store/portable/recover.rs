//! Recover (issue 23 §3), for both backends: every delivery a target was sent from a time on,
//! queued again as a copy for a receiver that lost what it had.
//!
//! A copy is a new delivery (its own id, `X-FastComments-Delivery`) of the copied one's change:
//! the same comment, position, kind and body, to where the target points now, naming the
//! delivery it copies in `recovered_from` (its `webhook-id`). It joins its comment's stream at
//! its position, so each comment's changes go out in order, and the stream's head stays the
//! earliest waiting delivery (`queue_copies`). A recover of many changes is queued a page at
//! a time, each page one short transaction that also moves the recover's cursor, so no
//! transaction holds the outbox for all of it and a page is never queued twice.

use super::dialect::{announce, insert_copies, lock_tenant_queuing, sql, Backend, Conn};
use super::outbox::{
    first_positions, load_webhook_targets, settle_heads, Waiting, TARGET, WAITING,
};
use crate::ids::{self, TenantId};
use crate::records::{
    target_host, DeliveryStatus, Notice, RecoverTarget, Recovery, WebhookTargets,
};
use crate::store::rows::{records, webhook_kind, RecoverCopy, StoreRow};
use crate::store::{StoreError, StoreResult};
use fastcomments_protocol::{HttpMethod, Millis, WebhookEventKind};

/// The deliveries a target was sent: a subscription's, or a configuration's (its domain's
/// deliveries in the configurations' stream `''`). Binds the tenant and the target's name.
fn target_filter(target: &RecoverTarget) -> (String, &str) {
    match target {
        RecoverTarget::Subscription(id) => (format!("tenant_id = ? AND {TARGET} = ?"), id),
        RecoverTarget::Config(domain) => (
            format!("tenant_id = ? AND {TARGET} = '' AND config_domain = ?"),
            domain,
        ),
    }
}

/// `409` for a recover of a target that has one running.
fn running() -> StoreError {
    StoreError::Conflict(
        "a recover of this target is running (queuing, or its copies still waiting)".into(),
    )
}

/// Starts `r`, holding it until `lease_until`; [`StoreError::Conflict`] while another recover
/// of the same target runs: still queuing (its lease lives), or its copies still waiting.
pub(in crate::store) async fn begin_recovery(
    store: &Backend,
    r: &Recovery,
    now: Millis,
    lease_until: Millis,
) -> StoreResult<()> {
    let mut tx = store.writes().begin().await?;
    let (filter, name) = target_filter(&r.target);
    let text = format!(
        "SELECT id FROM webhook_deliveries WHERE {filter} AND recovered_from IS NOT NULL \
         AND {WAITING} LIMIT 1"
    );
    let waiting: Option<String> = sqlx::query_scalar(&sql(&text))
        .bind(r.tenant_id.as_str())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    if waiting.is_some() {
        return Err(running());
    }
    // One row per target: taking it over only when the last recover ended or its node let go
    // is one statement, so two recovers started at once (on any nodes) cannot both win.
    let started: Option<String> = sqlx::query_scalar(&sql(
        "INSERT INTO webhook_recoveries (tenant_id, target, id, since, until, cursor_position, \
         cursor_id, queued, started_at, lease_until, finished_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', 0, ?7, ?8, NULL) \
         ON CONFLICT (tenant_id, target) DO UPDATE SET id = excluded.id, since = excluded.since, \
         until = excluded.until, cursor_position = excluded.cursor_position, cursor_id = '', \
         queued = 0, started_at = excluded.started_at, lease_until = excluded.lease_until, \
         finished_at = NULL \
         WHERE webhook_recoveries.finished_at IS NOT NULL OR webhook_recoveries.lease_until <= ?7 \
         RETURNING id",
    ))
    .bind(r.tenant_id.as_str())
    .bind(r.target.key())
    .bind(&r.id)
    .bind(r.since)
    .bind(r.until)
    // Past (since, ''): every delivery at `since` or later (ids are never empty).
    .bind(r.since)
    .bind(now.0)
    .bind(lease_until.0)
    .fetch_optional(&mut *tx)
    .await?;
    if started.is_none() {
        return Err(running());
    }
    tx.commit().await?;
    Ok(())
}

/// The recover `id` of `target` as stored, if it is still that one.
async fn stored(
    conn: &mut Conn,
    tenant: &TenantId,
    target: &RecoverTarget,
    id: &str,
) -> StoreResult<Option<Recovery>> {
    let row = sqlx::query(&sql(
        "SELECT * FROM webhook_recoveries WHERE tenant_id = ? AND target = ? AND id = ?",
    ))
    .bind(tenant.as_str())
    .bind(target.key())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Recovery {
        id: row.text("id")?,
        tenant_id: tenant.to_owned(),
        target: target.clone(),
        since: row.int("since")?,
        until: row.int("until")?,
        cursor: (row.int("cursor_position")?, row.text("cursor_id")?),
        queued: u64::try_from(row.int("queued")?).unwrap_or(0),
        started_at: row.int("started_at")?,
        finished_at: row.opt_int("finished_at")?,
    }))
}

/// Where a copy goes now, and how: the target as it is configured at this page.
struct Route<'a> {
    url: &'a str,
    method: HttpMethod,
    legacy_token: bool,
    status: DeliveryStatus,
}

/// Where the target sends a delivery of `kind` now; `None` when it no longer does (a
/// subscription that dropped the kind, a configuration without a target for it).
fn route<'a>(
    targets: &'a WebhookTargets,
    target: &RecoverTarget,
    kind: WebhookEventKind,
) -> Option<Route<'a>> {
    match target {
        RecoverTarget::Subscription(id) => {
            let s = targets.subscriptions.iter().find(|s| &s.id == id)?;
            s.kinds.contains(&kind).then(|| Route {
                url: &s.url,
                method: s.method(),
                legacy_token: false,
                // Disabled meanwhile: kept for when it is enabled, as a change's would be.
                status: if s.disabled_at.is_some() {
                    DeliveryStatus::Paused
                } else {
                    DeliveryStatus::Queued
                },
            })
        }
        RecoverTarget::Config(domain) => {
            let c = targets.configs.iter().find(|c| &c.domain == domain)?;
            c.target(kind).map(|t| Route {
                url: &t.url,
                method: t.method,
                legacy_token: c.legacy_token_header,
                status: DeliveryStatus::Queued,
            })
        }
    }
}

/// Queues the next page of `r` (at most `limit` deliveries copied) in one transaction, moves
/// its cursor past them and holds it until `lease_until`; returns it as it is then
/// (`finished_at` set once every delivery in its range is copied). A recover that is no longer
/// the target's (another took over after its lease ran out) or already finished is returned
/// as stored, and nothing is queued.
pub(in crate::store) async fn recover_page(
    store: &Backend,
    r: &Recovery,
    limit: u64,
    now: Millis,
    lease_until: Millis,
) -> StoreResult<Recovery> {
    let tenant = &r.tenant_id;
    let mut tx = store.writes().begin().await?;
    lock_tenant_queuing(&mut tx, tenant).await?;
    let Some(mut rec) = stored(&mut tx, tenant, &r.target, &r.id).await? else {
        let mut gone = r.clone();
        gone.finished_at = Some(now.0);
        return Ok(gone);
    };
    if rec.finished_at.is_some() {
        return Ok(rec);
    }
    let targets = load_webhook_targets(&mut tx, tenant).await?;
    // What the target was sent in the range, past the cursor: originals only (a copy's change
    // is its original's), whatever their state: one still waiting may be in flight already,
    // its answer not yet recorded, and the receiver lose it too. It and its copy then both go
    // out, with the same `webhook-id`.
    let (filter, name) = target_filter(&r.target);
    // Not their bodies: the copies take them from the originals in the database
    // ([`RecoverCopy`]).
    let text = format!(
        "SELECT id, comment_id, subscription_id, position, kind FROM webhook_deliveries \
         WHERE {filter} AND recovered_from IS NULL AND position <= ? \
         AND (position, id) > (?, ?) ORDER BY position, id LIMIT ?"
    );
    let rows = sqlx::query(&sql(&text))
        .bind(tenant.as_str())
        .bind(name)
        .bind(rec.until)
        // A row comparison: one range of the target's index from the cursor on (the OR form
        // is a filter over the target's deliveries from the first, each page).
        .bind(rec.cursor.0)
        .bind(&rec.cursor.1)
        // One more than the page: whether anything is left after it. A page that read only
        // up to its limit could not tell, and a recover whose count was a multiple of the page
        // stayed unfinished after its last copies were queued, until a page that found none
        // (a second recover of the target meanwhile was refused).
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
    let mut originals = records(&rows, Original::from_row)?;
    let done = originals.len() as u64 <= limit;
    originals.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let copies: Vec<RecoverCopy> = originals
        .iter()
        .filter_map(|o| {
            let to = route(&targets, &r.target, o.kind)?;
            Some(RecoverCopy {
                id: ids::object_id(),
                original: &o.id,
                comment_id: &o.comment_id,
                subscription_id: &o.subscription_id,
                position: o.position,
                url: to.url,
                target_host: target_host(to.url),
                method: to.method,
                legacy_token: to.legacy_token,
                status: to.status,
                ready: false,
            })
        })
        .collect();
    let queued = copies.len();
    if !copies.is_empty() {
        queue_copies(&mut tx, tenant, copies, now).await?;
    }
    if let Some(last) = originals.last() {
        rec.cursor = (last.position, last.id.clone());
    }
    rec.queued += queued as u64;
    rec.finished_at = done.then_some(now.0);
    sqlx::query(&sql(
        "UPDATE webhook_recoveries SET cursor_position = ?, cursor_id = ?, queued = ?, \
         lease_until = ?, finished_at = ? WHERE tenant_id = ? AND target = ? AND id = ?",
    ))
    .bind(rec.cursor.0)
    .bind(&rec.cursor.1)
    .bind(i64::try_from(rec.queued).unwrap_or(i64::MAX))
    .bind(lease_until.0)
    .bind(rec.finished_at)
    .bind(tenant.as_str())
    .bind(r.target.key())
    .bind(&r.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rec)
}

/// One delivery of a recover's page, as far as its copy needs it: the rest (its body, domains,
/// tenant) is taken from its row by the copies' insert.
struct Original {
    id: String,
    comment_id: String,
    subscription_id: String,
    position: i64,
    kind: WebhookEventKind,
}

impl Original {
    fn from_row<R: StoreRow>(row: &R) -> StoreResult<Self> {
        Ok(Self {
            id: row.text("id")?,
            comment_id: row.text("comment_id")?,
            subscription_id: row.text("subscription_id")?,
            position: row.int("position")?,
            kind: webhook_kind(row)?,
        })
    }
}

/// Queues a page's copies (in position order) in their streams. Each waits at its change's
/// position: the head of its stream if nothing earlier waits, else it waits its turn. Their
/// flags are set from what waits in their streams ([`Waiting`]); only a copy that goes before a
/// stream's waiting head (a later change not yet sent, which then waits for it) makes a
/// stream settle again ([`settle_heads`]).
async fn queue_copies(
    conn: &mut Conn,
    tenant: &TenantId,
    mut copies: Vec<RecoverCopy<'_>>,
    now: Millis,
) -> StoreResult<()> {
    let firsts = first_positions(
        copies
            .iter()
            .map(|c| (c.comment_id, c.subscription_id, c.position)),
    );
    let streams: Vec<(&str, &str)> = firsts.keys().copied().collect();
    let waiting = Waiting::lock(conn, tenant, &streams).await?;
    let mut heads: Vec<bool> = Vec::with_capacity(copies.len());
    let mut displaced: Vec<String> = Vec::new();
    for c in &copies {
        let first = firsts[&(c.comment_id, c.subscription_id)];
        let earliest = waiting.first(c.comment_id, c.subscription_id);
        if earliest.is_some_and(|e| first < e) {
            displaced.push(c.id.clone());
            heads.push(false);
        } else {
            heads.push(c.position == first && earliest.is_none_or(|e| first <= e));
        }
    }
    drop(firsts);
    for (c, ready) in copies.iter_mut().zip(heads) {
        c.ready = ready;
    }
    insert_copies(conn, &copies, now).await?;
    if !displaced.is_empty() {
        let ids: Vec<&str> = displaced.iter().map(String::as_str).collect();
        settle_heads(conn, &ids).await?;
    }
    announce(conn, &Notice::Deliveries).await
}
