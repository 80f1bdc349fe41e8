//! The webhook outbox on SQLite: claiming due, ready deliveries and recording attempts (without
//! their own fsync). The portable part (configurations, queuing, the log's reads, cancel and
//! retry) is `portable/outbox.rs`.

use super::dialect::{id_list, ID_LIST};
use super::SqliteStore;
use crate::ids::TenantId;
use crate::records::{AttemptOutcome, Delivery, DueQuery};
use crate::store::rows::claimed_in_order;
use crate::store::StoreResult;
use fastcomments_protocol::Millis;
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

/// The attempts' logs, from one JSON array of `[delivery, attempt, at, url, method, status
/// code, response body, duration, error]` rows. The dispatcher's statements take their lists
/// as one JSON parameter (`json_each`) so that each has one text whatever the batch: sqlx
/// prepares a statement once per text and connection, and a list spelled out as placeholders
/// made every batch size and every count of left-out hosts a statement of its own, prepared
/// again as the cache turned over (8 % of the hub's time with ten subscriptions, `perf`).
pub(super) const RECORD_ATTEMPTS_SQL: &str = "INSERT INTO webhook_attempts (delivery_id, attempt, \
     at, url, method, status_code, response_body, duration_ms, error) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7, value ->> 8 FROM json_each(?) WHERE true \
     ON CONFLICT (delivery_id, attempt) DO NOTHING";

/// The deliveries' moves after their attempts, from one JSON array of `[delivery, status,
/// attempt, next attempt at, error]` rows (`?2` the time). An attempt made while its delivery
/// was being cancelled (or paused) still counts (a manual retry then sends the next number),
/// but only a pending delivery moves on.
pub(super) const MOVE_ON_SQL: &str = "WITH v(id, status, attempt, next_at, err) AS ( \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?1)) \
     UPDATE webhook_deliveries SET attempts = MAX(webhook_deliveries.attempts, v.attempt), \
     lease_until = NULL, updated_at = ?2, \
     status = CASE WHEN webhook_deliveries.status IN ('queued', 'retrying') THEN v.status ELSE webhook_deliveries.status END, \
     next_attempt_at = CASE WHEN webhook_deliveries.status IN ('queued', 'retrying') THEN v.next_at ELSE webhook_deliveries.next_attempt_at END, \
     last_error = CASE WHEN webhook_deliveries.status IN ('queued', 'retrying') THEN v.err ELSE webhook_deliveries.last_error END \
     FROM v WHERE webhook_deliveries.id = v.id";

/// Writes attempt logs and moves their deliveries on, in one transaction of `conn`: one
/// statement each for the logs and the moves, however many (one commit covers the batch).
pub(super) async fn record_attempts_in(
    conn: &mut SqliteConnection,
    outcomes: &[AttemptOutcome],
    now: Millis,
) -> StoreResult<bool> {
    // Tuples serialize as JSON arrays: the rows the statements read with `->>`.
    let logs: Vec<_> = outcomes
        .iter()
        .map(|o| {
            let a = &o.attempt;
            (
                &a.delivery_id,
                a.attempt,
                a.at,
                &a.url,
                &a.method,
                a.status_code,
                &a.response_body,
                a.duration_ms,
                &a.error,
            )
        })
        .collect();
    let moves: Vec<_> = outcomes
        .iter()
        .map(|o| {
            (
                &o.attempt.delivery_id,
                o.status.as_str(),
                o.attempt.attempt,
                o.next_attempt_at,
                &o.attempt.error,
            )
        })
        .collect();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query(RECORD_ATTEMPTS_SQL)
        .bind(serde_json::to_string(&logs)?)
        .execute(&mut *tx)
        .await?;
    sqlx::query(MOVE_ON_SQL)
        .bind(serde_json::to_string(&moves)?)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
    // A sent or finally failed delivery hands its stream to the next one.
    let ids: Vec<&str> = outcomes
        .iter()
        .map(|o| o.attempt.delivery_id.as_str())
        .collect();
    let readied = super::portable::outbox::settle_heads(&mut tx, &ids).await? > 0;
    super::subscriptions::note_health(&mut tx, outcomes).await?;
    tx.commit().await?;
    Ok(readied)
}

/// The claim's statement for `q` (see [`due_deliveries`]): one text whatever `q`'s lists
/// hold, each list one JSON parameter.
pub(super) fn claim_query<'a>(q: &DueQuery<'a>) -> StoreResult<QueryBuilder<'a, Sqlite>> {
    // Only ready deliveries (each stream's head, see `portable/outbox.rs`) are read, all
    // through `webhook_deliveries_ready`, and no order is checked here. The (host,
    // subscription) pairs with a ready delivery are walked with a few index seeks each (a
    // recursive MIN), and each pair not left out gives its first `per_host` due deliveries;
    // then each host keeps its first `per_host` of those. A pair with thousands due costs no
    // more than one with a few, and a subscription at its in-flight limit costs one seek, not
    // a walk over its backlog (a hanging receiver's thousands of queued deliveries made every
    // claim 14x slower when they were skipped row by row). What comes out is claimed
    // (`lease_until`) in the same statement; the one writer runs claims one at a time.
    const PENDING: &str = "ready AND status IN ('queued', 'retrying')";
    let skip_tenants: Vec<String> = q.skip_tenants.iter().map(TenantId::to_string).collect();
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("UPDATE webhook_deliveries SET lease_until = ");
    qb.push_bind(q.now.0 + q.lease_ms);
    qb.push(format!(
        " WHERE id IN (WITH RECURSIVE pairs(h, s) AS ( \
           SELECT first.h, (SELECT MIN(subscription_id) FROM webhook_deliveries \
                            WHERE {PENDING} AND target_host = first.h) \
           FROM (SELECT MIN(target_host) AS h FROM webhook_deliveries WHERE {PENDING}) AS first \
           UNION ALL \
           SELECT CASE WHEN (SELECT MIN(subscription_id) FROM webhook_deliveries \
                             WHERE {PENDING} AND target_host = pairs.h AND subscription_id > pairs.s) IS NOT NULL \
                       THEN pairs.h \
                       ELSE (SELECT MIN(target_host) FROM webhook_deliveries \
                             WHERE {PENDING} AND target_host > pairs.h) END, \
                  COALESCE((SELECT MIN(subscription_id) FROM webhook_deliveries \
                            WHERE {PENDING} AND target_host = pairs.h AND subscription_id > pairs.s), \
                           (SELECT MIN(subscription_id) FROM webhook_deliveries \
                            WHERE {PENDING} AND target_host = (SELECT MIN(target_host) \
                              FROM webhook_deliveries WHERE {PENDING} AND target_host > pairs.h))) \
           FROM pairs WHERE pairs.h IS NOT NULL), \
         picked AS (SELECT d.id, d.target_host, d.next_attempt_at, d.position \
           FROM pairs JOIN webhook_deliveries d ON d.rowid IN ( \
           SELECT e.rowid FROM webhook_deliveries e \
           WHERE e.target_host = pairs.h AND e.subscription_id = pairs.s AND e.{PENDING} \
             AND e.next_attempt_at <= "
    ));
    qb.push_bind(q.now.0);
    qb.push(" AND (e.lease_until IS NULL OR e.lease_until <= ");
    qb.push_bind(q.now.0);
    // In flight, and of a full tenant.
    qb.push(") AND e.id NOT IN (SELECT value FROM json_each(");
    qb.push_bind(id_list(q.exclude)?);
    qb.push(")) AND e.tenant_id NOT IN (SELECT value FROM json_each(");
    qb.push_bind(id_list(&skip_tenants)?);
    // In the ready index's own order (the first two columns fixed), which only it gives.
    qb.push(")) ORDER BY e.target_host, e.subscription_id, e.next_attempt_at, e.position LIMIT ");
    let per_host = i64::try_from(q.per_host).unwrap_or(i64::MAX);
    qb.push_bind(per_host);
    // Full hosts and subscriptions; a full tenant's subscriptions are left out as pairs (one
    // lookup each), not row by row above: that read a fan-out tenant's whole backlog at every
    // claim while it was full.
    qb.push(") WHERE pairs.h IS NOT NULL AND pairs.h NOT IN (SELECT value FROM json_each(");
    qb.push_bind(id_list(q.skip_hosts)?);
    qb.push(")) AND pairs.s NOT IN (SELECT value FROM json_each(");
    qb.push_bind(id_list(q.skip_subscriptions)?);
    qb.push(
        ")) AND pairs.s NOT IN (SELECT id FROM webhook_subscriptions WHERE tenant_id IN \
         (SELECT value FROM json_each(",
    );
    qb.push_bind(id_list(&skip_tenants)?);
    qb.push(
        ")))), ranked AS (SELECT id, next_attempt_at, position, ROW_NUMBER() OVER \
           (PARTITION BY target_host ORDER BY next_attempt_at, position) AS n FROM picked) \
         SELECT id FROM ranked WHERE n <= ",
    );
    qb.push_bind(per_host);
    qb.push(" ORDER BY next_attempt_at, position LIMIT ");
    qb.push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
    qb.push(") RETURNING *");
    Ok(qb)
}

pub(super) async fn due_deliveries(
    store: &SqliteStore,
    q: &DueQuery<'_>,
) -> StoreResult<Vec<Delivery>> {
    let mut qb = claim_query(q)?;
    // A claim is cheap to lose (a crash re-sends, at-least-once): no fsync of its own.
    let mut conn = relaxed_writer(&store.writer).await?;
    let rows = qb.build().fetch_all(&mut *conn).await;
    restore_full(conn).await;
    let rows = rows?;
    claimed_in_order(&rows)
}

/// Gives back the claims on `ids` (one statement text, the ids one JSON parameter).
pub(super) async fn release_some(store: &SqliteStore, ids: &[String]) -> StoreResult<()> {
    sqlx::query(&format!(
        "UPDATE webhook_deliveries SET lease_until = NULL WHERE id IN ({ID_LIST})"
    ))
    .bind(id_list(ids)?)
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Drops every claim: the hub claiming the database for serving is the only one sending, so
/// claims left by a crashed predecessor are stale.
pub(super) async fn release_claims(store: &SqliteStore) -> StoreResult<()> {
    sqlx::query("UPDATE webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL")
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// The writer connection with `synchronous=NORMAL`: its commits do not wait for an fsync of
/// their own (the next API commit's makes them durable). Hand it back with [`restore_full`].
async fn relaxed_writer(writer: &SqlitePool) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
    let mut conn = writer.acquire().await?;
    sqlx::query("PRAGMA synchronous = NORMAL")
        .execute(&mut *conn)
        .await?;
    Ok(conn)
}

/// Puts the writer connection back to `synchronous=FULL` (or closes it if that fails).
async fn restore_full(mut conn: sqlx::pool::PoolConnection<Sqlite>) {
    if let Err(e) = sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut *conn)
        .await
    {
        tracing::error!(error = %e, "could not restore synchronous=FULL; closing the connection");
        conn.detach();
    }
}

pub(super) async fn record_attempts(
    store: &SqliteStore,
    outcomes: &[AttemptOutcome],
    now: Millis,
) -> StoreResult<bool> {
    // Attempt logs are committed without their own fsync: a process crash loses nothing (the
    // WAL is written), and the next API commit's fsync makes them durable. Only a power cut in
    // between could lose one, and that only means the delivery is sent again.
    let mut conn = relaxed_writer(&store.writer).await?;
    let result = record_attempts_in(&mut conn, outcomes, now).await;
    restore_full(conn).await;
    result
}
