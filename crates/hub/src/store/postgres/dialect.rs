//! What the portable queries and trait methods (`store/portable/`, compiled once per
//! backend) need of PostgreSQL: the store and connection types, its one pool, numbered
//! placeholders, the few words of SQL in which it differs from SQLite, and the trait methods
//! it answers its own way (notices, transactions run again on contention).

use super::apply::apply_in;
use super::comments::{load_comment, upsert_comments};
use super::{upload, PostgresStore};
use crate::ids::TenantId;
use crate::records::{Applied, Change, Notice, UploadBatch, UploadOutcome};
use crate::rules;
use crate::store::rows::{unsent_position, RecoverCopy};
use crate::store::{full_faults, FaultKind, StoreError, StoreResult};
use fastcomments_protocol::{Comment, Millis};
use sqlx::postgres::{PgConnection, PgPool};
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::LazyLock;
use tokio::sync::broadcast;

pub(super) use super::notify::announce;

/// Most bound values one statement carries: 3,000 rows of 19, under PostgreSQL's 65,535.
pub(super) const MAX_PARAMS: usize = 57_000;

pub(super) type Backend = PostgresStore;
pub(super) type Db = sqlx::Postgres;
pub(super) type Row = sqlx::postgres::PgRow;
pub(super) type Conn = PgConnection;

impl PostgresStore {
    /// Reads and writes share one pool: every node's connections are alike.
    pub(super) fn reads(&self) -> &PgPool {
        &self.pool
    }

    /// The same pool as [`PostgresStore::reads`].
    pub(super) fn writes(&self) -> &PgPool {
        self.reads()
    }
}

/// The portable statement with PostgreSQL's numbered placeholders: `?N` becomes `$N`, and
/// the n-th plain `?` becomes `$n` (a statement uses one form or the other). The portable
/// statements hold no `?` inside a string literal.
pub(super) fn sql(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut parts = text.split('?');
    out.push_str(parts.next().unwrap_or_default());
    for (n, part) in (1..).zip(parts) {
        out.push('$');
        if !part.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&n.to_string());
        }
        out.push_str(part);
    }
    Cow::Owned(out)
}

/// Runs a trait method's work, ended `Unavailable` if the server stops answering meanwhile
/// (`liveness.rs`): every method of the store's traits goes through here.
pub(super) async fn bounded<T>(
    store: &Backend,
    call: impl std::future::Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    store.liveness.bounded(call).await
}

/// A list of ids as one bound parameter, for `IN (...)`: one statement text whatever its
/// length ([`id_list`] binds it).
pub(super) const ID_LIST: &str = "SELECT unnest(CAST(? AS text[]))";

/// Walks of a stream start from the streams named, one lateral lookup each
/// (`portable/outbox.rs`, `settle_heads_sql`): on statistics of a drained outbox, which say no
/// delivery is unsent, PostgreSQL read every unsent delivery and then looked each one's stream
/// up in the list, at every record.
pub(super) const STREAMS_BY_LATERAL: bool = true;

/// The value [`ID_LIST`] binds: the ids as an array.
pub(super) fn id_list<'a>(ids: &'a [&'a str]) -> StoreResult<&'a [&'a str]> {
    Ok(ids)
}

/// What ends a delivery's claim: the lease and the node that holds it (several nodes claim).
pub(super) const END_CLAIM: &str = "lease_until = NULL, claimed_by = NULL";

/// The larger of two values.
pub(super) const GREATEST: &str = "GREATEST";

/// The columns of a timeline read, the timeline as `t` (the payload is the entry's own).
pub(super) const READ_TIMELINE: &str =
    "SELECT t.id, t.created_at, t.kind, t.url_id, t.payload FROM timeline t";

/// Moves each tenant's prune mark up to the newest of its entries before `?1`.
pub(super) const MARK_PRUNED: &str =
    "UPDATE tenant_clock SET pruned_through = GREATEST(pruned_through, p.newest) \
     FROM (SELECT tenant_id, MAX(created_at) AS newest FROM timeline WHERE created_at < ?1 GROUP BY tenant_id) p \
     WHERE tenant_clock.tenant_id = p.tenant_id";

/// Stores a session. On a conflict the row keeps its `created_at` and the later `seen_at`,
/// since two nodes may save one session at once.
pub(super) const SAVE_SESSION: &str =
    "INSERT INTO admin_sessions (id, doc, anonymous, created_at, seen_at) \
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, \
     anonymous = excluded.anonymous, seen_at = GREATEST(admin_sessions.seen_at, excluded.seen_at)";

/// Drops the anonymous sessions past the newest `?` (the flag is a boolean here).
pub(super) const TRIM_ANONYMOUS_SESSIONS: &str =
    "DELETE FROM admin_sessions WHERE id IN (SELECT id FROM admin_sessions \
     WHERE anonymous ORDER BY seen_at DESC, id OFFSET ?)";

/// A comment of the tenant; with `lock`, its row stays locked until the transaction ends, so
/// concurrent changes of one comment (on any node) apply one after the other.
pub(super) async fn read_comment(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
    lock: bool,
) -> StoreResult<Option<Comment>> {
    load_comment(conn, tenant, id, lock).await
}

/// Holds, until the transaction ends, the right to start an import of `tenant`: starts of one
/// tenant's imports on any node run one after the other.
pub(super) async fn lock_tenant_imports(conn: &mut Conn, tenant: &TenantId) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('imports:' || $1, 0))")
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Locks the unfinished deliveries of the streams (tenant, comment, subscription) of the
/// deliveries `ids`, before a write ends or retries some of them and settles their heads.
/// Under READ COMMITTED two such writes (or one and a queuing) would each decide the head
/// from a snapshot without the other's change, and a stream could be left with no ready
/// delivery (or two). The lock makes the later one wait and read the committed state. The
/// rows are locked in one order (stream, position, id) by every writer, so they never wait on
/// each other in a circle; failed and cancelled rows are locked too, as a retry makes them
/// wait again. The claim takes its rows with `SKIP LOCKED` and never waits here.
pub(super) async fn lock_streams(conn: &mut Conn, ids: &[&str]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(LOCK_STREAMS.as_str())
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// [`lock_streams`]' statement, built once (a record runs it). The unsent rows only, through
/// the index over them (`unsent_position`): not the stream's sent history. Each stream named
/// is looked up on its own (a lateral lookup, in stream order, each locked in position order):
/// as a join, statistics of a drained outbox (no delivery unsent) made PostgreSQL read every
/// unsent delivery first.
static LOCK_STREAMS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT 1 FROM (SELECT DISTINCT k.tenant_id, k.comment_id, k.subscription_id \
         FROM webhook_deliveries k WHERE k.id = ANY($1) ORDER BY 1, 2, 3) k \
         CROSS JOIN LATERAL (SELECT s.id FROM webhook_deliveries s WHERE s.tenant_id = k.tenant_id \
         AND s.comment_id = k.comment_id AND s.subscription_id = k.subscription_id AND {} IS NOT NULL \
         ORDER BY s.position, s.id FOR NO KEY UPDATE) l",
        unsent_position("s")
    )
});

/// Locks (shared) the unfinished deliveries of the tenant's streams `(comment, subscription)`
/// before deliveries are queued in them, for the reason and in the order of [`lock_streams`]:
/// a queuing that waited for a write ending the stream's head then sees the head ended and
/// queues a ready delivery. Queuings of one tenant do not race each other (the tenant's
/// clock row orders them). Returns, from the rows it locked, the earliest waiting position of
/// each stream that has a delivery waiting, so the caller sets its new rows' `ready` flags
/// from the answer (no check per row in the insert).
pub(super) async fn lock_new_streams(
    conn: &mut Conn,
    tenant: &TenantId,
    streams: &[(&str, &str)],
) -> StoreResult<Vec<(String, String, i64)>> {
    if streams.is_empty() {
        return Ok(Vec::new());
    }
    let comments: Vec<&str> = streams.iter().map(|s| s.0).collect();
    let subscriptions: Vec<&str> = streams.iter().map(|s| s.1).collect();
    let rows: Vec<(String, String, i64, bool)> = sqlx::query_as(LOCK_NEW_STREAMS.as_str())
        .bind(tenant.as_str())
        .bind(&comments)
        .bind(&subscriptions)
        .fetch_all(&mut *conn)
        .await?;
    // In stream and position order: a stream's first waiting row is its earliest.
    let mut firsts: Vec<(String, String, i64)> = Vec::new();
    for (comment, subscription, position, waiting) in rows {
        let seen = firsts
            .last()
            .is_some_and(|(c, s, _)| *c == comment && *s == subscription);
        if waiting && !seen {
            firsts.push((comment, subscription, position));
        }
    }
    Ok(firsts)
}

/// [`lock_new_streams`]' statement, built once (a queuing runs it).
static LOCK_NEW_STREAMS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT d.comment_id, d.subscription_id, d.position, d.status IN ('queued', 'retrying', 'paused') \
         FROM webhook_deliveries d WHERE d.tenant_id = $1 \
         AND (d.comment_id, d.subscription_id) IN (SELECT * FROM UNNEST($2::text[], $3::text[])) \
         AND {} IS NOT NULL ORDER BY d.comment_id, d.subscription_id, d.position, d.id FOR SHARE",
        unsent_position("d")
    )
});

/// [`insert_copies`]' statement: `$1`–`$8` the copies' columns as arrays (id, original, url,
/// host, method, legacy token, status, ready), `$9` the instant.
#[doc(hidden)]
pub const COPIES_SQL: &str =
    "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, \
         config_domain, subscription_id, url, target_host, method, legacy_token, body, status, \
         attempts, max_attempts, next_attempt_at, created_at, updated_at, ready, recovered_from) \
         SELECT v.id, o.tenant_id, o.comment_id, o.position, o.kind, o.domain, o.config_domain, \
         o.subscription_id, v.url, v.host, v.method, v.legacy, o.body, v.status, 0, 0, $9, $9, $9, \
         v.ready, o.id \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], \
         $7::text[], $8::bool[]) AS v(id, original, url, host, method, legacy, status, ready) \
         CROSS JOIN LATERAL (SELECT * FROM webhook_deliveries w WHERE w.id = v.original LIMIT 1) o \
         ORDER BY o.position, o.id";

/// Inserts a recover's copies, each with its original's tenant, comment, position, kind,
/// domains and body taken from the original's row ([`RecoverCopy`]): one statement whatever
/// the page's size (its values as arrays), prepared once per connection. Each original is
/// found by its primary key, a `LATERAL` lookup behind a `LIMIT` (which keeps it from being
/// flattened into a join): as a join, with statistics taken while the outbox was empty,
/// PostgreSQL hashed the page and read the whole outbox for each page.
pub(super) async fn insert_copies(
    conn: &mut Conn,
    copies: &[RecoverCopy<'_>],
    now: Millis,
) -> StoreResult<()> {
    let ids: Vec<&str> = copies.iter().map(|c| c.id.as_str()).collect();
    let originals: Vec<&str> = copies.iter().map(|c| c.original).collect();
    let urls: Vec<&str> = copies.iter().map(|c| c.url).collect();
    let hosts: Vec<&str> = copies.iter().map(|c| c.target_host.as_str()).collect();
    let methods: Vec<&str> = copies.iter().map(|c| c.method.as_str()).collect();
    let legacy: Vec<bool> = copies.iter().map(|c| c.legacy_token).collect();
    let statuses: Vec<&str> = copies.iter().map(|c| c.status.as_str()).collect();
    let ready: Vec<bool> = copies.iter().map(|c| c.ready).collect();
    sqlx::query(COPIES_SQL)
        .bind(&ids)
        .bind(&originals)
        .bind(&urls)
        .bind(&hosts)
        .bind(&methods)
        .bind(&legacy)
        .bind(&statuses)
        .bind(&ready)
        .bind(now.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes the tenant's clock row before a recover queues copies in the tenant's streams: every
/// queuing of a change takes it too (drawing its position), before its stream locks, so a
/// recover's page and a change's deliveries are queued one after the other and each decides
/// its streams' heads from the other's committed rows. Taken first, in that same order.
pub(super) async fn lock_tenant_queuing(conn: &mut Conn, tenant: &TenantId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM tenant_clock WHERE tenant_id = $1 FOR UPDATE")
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes one changed comment.
pub(super) async fn save_comment(conn: &mut Conn, c: &Comment) -> StoreResult<()> {
    upsert_comments(conn, &[c]).await
}

/// A full disk since the last probe that could write: a table that cannot grow answers
/// `53100` to writes while reads (and `/readyz`'s query) go on, so `/readyz` must try a write
/// that needs new space ([`probe_write`]). Other faults (a server gone) show in every query.
/// Counted per process, so another store's full disk in the same process costs this one only a
/// probe, never a wrong answer.
pub(super) fn write_fault(store: &Backend) -> Option<StoreError> {
    let seen = full_faults();
    (seen > store.full_probed.load(Ordering::SeqCst)).then(|| StoreError::Unavailable {
        kind: FaultKind::Full,
        detail: "a write found the disk full".into(),
    })
}

/// Any number of hubs may serve one PostgreSQL database.
pub(super) fn claim_for_serving(_store: &Backend) -> StoreResult<()> {
    Ok(())
}

/// What the other nodes committed, as this node's listener hears it.
pub(super) fn notices(store: &Backend) -> Option<broadcast::Receiver<Notice>> {
    Some(store.notices.subscribe())
}

/// A write that needs new space, as the hub's writes do: a row in a new temporary table makes
/// PostgreSQL extend a relation by a page (`53100` on a full disk), and the commit writes WAL;
/// the table goes with the transaction. Once it succeeds, [`write_fault`] says writes are
/// well again.
pub(super) async fn probe_write(store: &Backend) -> StoreResult<()> {
    let seen = full_faults();
    let mut tx = store.pool.begin().await?;
    sqlx::query("CREATE TEMPORARY TABLE readyz_probe (n int) ON COMMIT DROP")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO readyz_probe VALUES (1)")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    store.full_probed.fetch_max(seen, Ordering::SeqCst);
    Ok(())
}

/// An API change in a transaction of its own, run again if a concurrent one wins.
pub(super) async fn apply(
    store: &Backend,
    tenant: &TenantId,
    change: Change,
    now: Millis,
) -> StoreResult<Applied> {
    store
        .retrying("apply", || async {
            let mut tx = store.pool.begin().await?;
            let applied = apply_in(&mut tx, tenant, change.clone(), now).await?;
            tx.commit().await?;
            Ok(applied)
        })
        .await
}

/// An upload batch in a transaction of its own, then the replies that waited for a parent
/// another batch stored meanwhile, linked in a second one (see `upload::link_late`).
pub(super) async fn upload(
    store: &Backend,
    batch: UploadBatch,
    now: Millis,
) -> StoreResult<UploadOutcome> {
    let prepared = rules::upload::prepare_upload(&batch.comments, &batch.tenant_id, now)?;
    let (mut outcome, late_keys) = store
        .retrying("upload", || {
            let mut prepared = prepared.clone();
            let batch = &batch;
            async move { upload::upload(store, batch, &mut prepared, now).await }
        })
        .await?;
    let (entries, deliveries) = store
        .retrying("upload links", || {
            upload::link_late(store, &batch.tenant_id, &batch.token, &late_keys, now)
        })
        .await?;
    outcome.entries.extend(entries);
    outcome.deliveries += deliveries;
    Ok(outcome)
}

/// Gives back this node's claims on `ids`, and wakes the other nodes' dispatchers for them.
/// On the bookkeeping connections, as the claims were made (`webhooks.rs`).
pub(super) async fn release_claims(store: &Backend, ids: &[String]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = store.bookkeeping.begin().await?;
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

/// The next `count` (at least one) positions of a tenant's clock (`max(now, last + 1)`
/// onwards, SPEC §1.2), taken in one statement. The row stays locked until the transaction
/// ends, so the tenant's next writer, on any node, waits and then continues past these
/// positions: one tenant's appends commit in position order.
pub(super) async fn take_positions(
    conn: &mut Conn,
    tenant: &TenantId,
    count: usize,
    now: Millis,
) -> StoreResult<Vec<i64>> {
    let n = count as i64;
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO tenant_clock (tenant_id, last_ms) VALUES ($1, $2 + $3 - 1) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_ms = GREATEST($2, tenant_clock.last_ms + 1) + $3 - 1 \
         RETURNING last_ms",
    )
    .bind(tenant.as_str())
    .bind(now.0)
    .bind(n)
    .fetch_one(&mut *conn)
    .await?;
    Ok((last - n + 1..=last).collect())
}

#[cfg(test)]
mod tests {
    use super::sql;

    #[test]
    fn placeholders_are_numbered_in_order_or_as_written() {
        assert_eq!(sql("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
        assert_eq!(
            sql("a = ?1 OR b = ?1 LIMIT ?2"),
            "a = $1 OR b = $1 LIMIT $2"
        );
        assert_eq!(sql("no placeholder"), "no placeholder");
    }
}
