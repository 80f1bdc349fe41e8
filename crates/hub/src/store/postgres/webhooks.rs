//! The webhook outbox on PostgreSQL: claims of ready deliveries with a lease and attempt
//! records, announced to the other nodes. The portable part (configurations, queuing, the
//! log's reads, cancel and retry) is `portable/outbox.rs`.
//!
//! The claims, their release and the attempts' records are the dispatcher's bookkeeping, which
//! a node writes several times for each batch it sends: they run on the store's `bookkeeping`
//! connections, whose commits do not wait for the log to reach the disk (`synchronous_commit`
//! off). A PostgreSQL crash may lose the last of these commits, never a part of one: a lost
//! claim or release only changes who sends a delivery; a lost record leaves its delivery
//! pending with its stream's next delivery not ready (the flag moves in the same
//! transaction), so it is sent again, in order: at least once, as documented. What queues a
//! delivery, and every API write, stays durable before it is answered. Waiting for a flush
//! at each of these commits made a node send half of what it sends without (20,000
//! deliveries, BENCHMARKS.md).

use super::dialect::lock_streams;
use super::notify::announce;
use super::portable::outbox::settle_heads;
use super::PostgresStore;
use crate::ids::TenantId;
use crate::records::{AttemptOutcome, Delivery, DueQuery, Notice};
use crate::store::rows::claimed_in_order;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;

/// The claim, with its parameters: `$1` now, `$2` ids to leave out, `$3` tenants to leave out,
/// `$4` at most this many per host (and per pair), `$5` hosts to leave out, `$6` at most this
/// many in all (and per pair), `$7` this node, `$8` the lease in ms, `$9` subscriptions to leave out.
///
/// It reads ready deliveries only (each stream's head, see `portable/outbox.rs`), all through
/// `webhook_deliveries_ready`, and checks no order: its cost is that of the pending streams'
/// heads whatever the backlog behind them, and its plan needs no statistics (no anti-join to
/// misjudge). The (host, subscription) pairs with a ready delivery are walked with one index
/// seek each (a recursive row-wise MIN, PostgreSQL having no skip scan), so a subscription at
/// its in-flight limit costs one seek; each pair gives at most `per_host`, then each host keeps
/// its first `per_host` (a pair's candidates are ordered by the ready index's own columns, the
/// first two fixed by the pair). No other index serves these conditions (the one over every
/// pending `next_attempt_at`, which the planner used pair by pair on a freshly filled outbox,
/// a walk over every host's due rows, is gone since migration 8). A pair's candidates are
/// locked as they are read, `SKIP LOCKED`: claims running at once (other nodes') take
/// different rows, each passing over what another holds to the rows behind it. Picked
/// without locks, every claim beside another picked the same first rows and the later one,
/// skipping all of them, came back empty, which its dispatcher takes for an empty outbox
/// (three nodes on a 10,000 backlog: one sent 93–95 % of it). A pair left out (a full host,
/// subscription or tenant) is left out in the pair's own lookup, before it reads or locks a
/// row. A pair gives at most the claim's limit (more could not be handed out: a claim for 20
/// with a host's share of 64 would lock 64); a candidate that the per-host share or the limit
/// then drops (several pairs) stays locked until the claim's statement ends. Then the rows
/// are taken in due order until the limit, as they were locked: in READ COMMITTED a row lock
/// checks the lookup's conditions again on the row's latest version (one changed since the
/// claim's snapshot is taken only if it still qualifies, SKIP LOCKED or not), and nobody
/// changes a row the claim holds, so claims hand out each due delivery once between them, and
/// what one of them skipped is left to the next claim, never lost. A second lookup of each
/// row by its primary key, checking its state once more, was left from picks made without
/// locks: a quarter of the claim's execution (`psql`, a 30,000 outbox: about 1.0 ms against
/// 0.75 ms). The update takes its rows by an array of ids, an index lookup whatever the
/// statistics say.
/// A subscription of a tenant left out (at its in-flight limit) is left out as a pair, before
/// its candidates are read (the tenants' subscriptions are looked up once per claim, an
/// uncorrelated subquery; as a `NOT EXISTS` the planner checked it after reading them):
/// skipped row by row, a fan-out tenant's backlog was read whole at every claim while the
/// tenant was full.
#[doc(hidden)]
pub const CLAIM_SQL: &str = "WITH RECURSIVE pairs(h, s) AS ( \
       (SELECT target_host, subscription_id FROM webhook_deliveries \
        WHERE ready AND status IN ('queued', 'retrying') ORDER BY target_host, subscription_id LIMIT 1) \
       UNION ALL \
       SELECT n.target_host, n.subscription_id FROM pairs CROSS JOIN LATERAL ( \
         SELECT target_host, subscription_id FROM webhook_deliveries \
         WHERE ready AND status IN ('queued', 'retrying') AND (target_host, subscription_id) > (pairs.h, pairs.s) \
         ORDER BY target_host, subscription_id LIMIT 1) n), \
     picked AS ( \
       SELECT c.id, pairs.h, c.next_attempt_at, c.position FROM pairs CROSS JOIN LATERAL ( \
         SELECT e.id, e.next_attempt_at, e.position FROM webhook_deliveries e \
         WHERE e.target_host = pairs.h AND e.subscription_id = pairs.s \
           AND e.ready AND e.status IN ('queued', 'retrying') \
           AND e.next_attempt_at <= $1 AND (e.lease_until IS NULL OR e.lease_until <= $1) \
           AND e.id <> ALL($2) AND e.tenant_id <> ALL($3) \
           AND pairs.h <> ALL($5) AND pairs.s <> ALL($9) \
           AND pairs.s <> ALL(ARRAY(SELECT ws.id FROM webhook_subscriptions ws WHERE ws.tenant_id = ANY($3))) \
         ORDER BY e.target_host, e.subscription_id, e.next_attempt_at, e.position LIMIT LEAST($4, $6) \
         FOR UPDATE OF e SKIP LOCKED) c), \
     due AS ( \
       SELECT id FROM (SELECT id, next_attempt_at, position, ROW_NUMBER() OVER \
           (PARTITION BY h ORDER BY next_attempt_at, position) AS n FROM picked) ranked \
       WHERE n <= $4 ORDER BY next_attempt_at, position LIMIT $6) \
     UPDATE webhook_deliveries w SET claimed_by = $7, lease_until = $1 + $8 \
     WHERE w.id = ANY(ARRAY(SELECT id FROM due)) RETURNING w.*";

/// Claims due deliveries for this node ([`CLAIM_SQL`]): pending, due, ready (per-comment
/// order holds across nodes: the next delivery of a stream becomes ready only when the
/// earlier one ended, wherever it was sent), not claimed by a live lease.
pub(super) async fn due_deliveries(
    store: &PostgresStore,
    q: &DueQuery<'_>,
) -> StoreResult<Vec<Delivery>> {
    let skip_tenants: Vec<&str> = q.skip_tenants.iter().map(TenantId::as_str).collect();
    // Planned at every call with its values, never from a cached generic plan (the
    // bookkeeping sessions' `plan_cache_mode`; parsed once per session): the generic plan
    // cannot see the small `LIMIT` per pair nor what the arrays hold, took the whole due
    // outbox for each pair's candidates (a bitmap scan of every due row and a sort), and
    // crossed the JIT's cost threshold. On a 100,000-delivery outbox that was 123 ms per claim
    // (115 of them compiling), against 1.9 ms planned with the values, planning included.
    let rows = sqlx::query(CLAIM_SQL)
        .bind(q.now.0)
        .bind(q.exclude)
        .bind(&skip_tenants)
        .bind(i64::try_from(q.per_host).unwrap_or(i64::MAX))
        .bind(q.skip_hosts)
        .bind(i64::try_from(q.limit).unwrap_or(i64::MAX))
        .bind(store.node.as_str())
        .bind(q.lease_ms)
        .bind(q.skip_subscriptions)
        .fetch_all(&store.bookkeeping)
        .await?;
    claimed_in_order(&rows)
}

/// Logs attempts and moves their deliveries on (releasing the claims), unless a delivery
/// was cancelled meanwhile. Retries are announced, so an idle node's dispatcher can take them.
pub(super) async fn record_attempts(
    store: &PostgresStore,
    outcomes: &[AttemptOutcome],
    now: Millis,
) -> StoreResult<bool> {
    let mut tx = store.bookkeeping.begin().await?;
    let ids: Vec<&str> = outcomes
        .iter()
        .map(|o| o.attempt.delivery_id.as_str())
        .collect();
    // Before anything changes: this write may end the heads of these streams.
    lock_streams(&mut tx, &ids).await?;
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
    .bind(now.0)
    .execute(&mut *tx)
    .await?;
    // A sent or finally failed delivery hands its stream to the next one.
    let readied = settle_heads(&mut tx, &ids).await? > 0;
    super::subscriptions::note_health(&mut tx, outcomes).await?;
    if outcomes.iter().any(|o| o.status.is_pending()) {
        announce(&mut tx, &Notice::Deliveries).await?;
    }
    tx.commit().await?;
    Ok(readied)
}
