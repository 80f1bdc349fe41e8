//! Bringing a database made by an older hub up to date: columns added after the first
//! schema, and one-time repairs of data older hubs wrote wrongly. Each repair runs once; the
//! `schema_migrations` table remembers which ran.

use crate::clock::Clock;
use crate::store::StoreResult;
use fastcomments_protocol::Comment;
use sqlx::SqlitePool;

/// One step that brings a database made by an earlier version up to the schema: a column
/// added (table, column, declaration) or a statement run (an index over such columns).
enum Upgrade {
    Column(&'static str, &'static str, &'static str),
    Statement(&'static str),
}

/// Every upgrade, in the order they are made (an index after the columns it covers).
const UPGRADES: &[Upgrade] = &[
    Upgrade::Column("comments", "event_pos", "INTEGER"),
    Upgrade::Column("timeline", "doc_ref", "TEXT"),
    Upgrade::Column("webhook_deliveries", "lease_until", "INTEGER"),
    Upgrade::Column(
        "integration_tokens",
        "api_secret_allowed",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    Upgrade::Column("integration_tokens", "registered_from", "TEXT"),
    Upgrade::Statement(
        "CREATE INDEX IF NOT EXISTS integration_tokens_pending ON integration_tokens \
             (registered_from, created_at) WHERE state = 'pending'",
    ),
    Upgrade::Statement(
        "CREATE INDEX IF NOT EXISTS integration_tokens_pending_by_age ON integration_tokens \
             (created_at) WHERE state = 'pending'",
    ),
    Upgrade::Column(
        "webhook_deliveries",
        "target_host",
        "TEXT NOT NULL DEFAULT ''",
    ),
    Upgrade::Column(
        "webhook_deliveries",
        "subscription_id",
        "TEXT NOT NULL DEFAULT ''",
    ),
    Upgrade::Column("webhook_deliveries", "ready", "INTEGER NOT NULL DEFAULT 0"),
    Upgrade::Column("webhook_deliveries", "recovered_from", "TEXT"),
    // A recover walks one target's deliveries by position, a page at a time; pausing,
    // resuming and removing a subscription find its deliveries through it too. Over the
    // target as an expression (`portable/outbox.rs`, `TARGET`), which only those statements
    // name: the lookups of one comment's stream must have no index but the stream's to
    // choose.
    Upgrade::Statement(
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_of_target ON webhook_deliveries \
             (tenant_id, (subscription_id || ''), position, id)",
    ),
    // After the columns exist in old databases too: the claim walks the ready deliveries
    // (each stream's head) by (host, subscription) through it, and reads nothing else. It
    // replaces the index over every pending delivery of earlier versions (and that one the
    // per-host index before it), whose columns it has.
    Upgrade::Statement(
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_ready ON webhook_deliveries \
             (target_host, subscription_id, next_attempt_at, position) \
             WHERE ready AND status IN ('queued', 'retrying')",
    ),
    // When the next ready delivery is due (`next_due_at`): the first entry of this index,
    // over an expression no other statement names (`NEXT_READY` of `portable/outbox.rs`), so
    // that no claim is planned through it. It replaces the index over `next_attempt_at + 0`
    // with the claim's own predicate, and the ones over every pending delivery's
    // `next_attempt_at` and each ready delivery's due instant or lease end before it.
    Upgrade::Statement("DROP INDEX IF EXISTS webhook_deliveries_due_ready"),
    Upgrade::Statement(
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_next_ready ON webhook_deliveries \
             ((CASE WHEN ready AND status IN ('queued', 'retrying') THEN next_attempt_at END)) \
             WHERE (CASE WHEN ready AND status IN ('queued', 'retrying') THEN next_attempt_at END) \
             IS NOT NULL",
    ),
    // The index of finished deliveries over `updated_at` (schema.sql makes its replacement,
    // `webhook_deliveries_finished_at`, which only the retention can use).
    Upgrade::Statement("DROP INDEX IF EXISTS webhook_deliveries_finished"),
    // Every delivery not sent by state, tenant and age, for `/metrics` (the open states over
    // the whole outbox) and the admin page's counts of one tenant (`STATE` and `UNSENT` of
    // `portable/stats.rs`): each a range of this index, not every delivery the retention
    // keeps. It replaces the index over the open ones only, which the tenant's counts could
    // not use.
    Upgrade::Statement("DROP INDEX IF EXISTS webhook_deliveries_open"),
    Upgrade::Statement(
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_state ON webhook_deliveries \
             ((status || ''), tenant_id, created_at) WHERE (status || '') <> 'succeeded'",
    ),
];

/// Makes every upgrade the database lacks (each is a no-op on one that has it).
pub(super) async fn upgrade(pool: &SqlitePool) -> StoreResult<()> {
    for step in UPGRADES {
        match *step {
            Upgrade::Column(table, column, declaration) => {
                add_column_if_missing(pool, table, column, declaration).await?;
            }
            Upgrade::Statement(statement) => {
                sqlx::query(statement).execute(pool).await?;
            }
        }
    }
    Ok(())
}

/// `ALTER TABLE … ADD COLUMN` unless the table has the column already.
async fn add_column_if_missing(
    pool: &SqlitePool,
    table: &'static str,
    column: &'static str,
    decl: &'static str,
) -> StoreResult<()> {
    let columns: Vec<String> =
        sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(pool)
            .await?;
    if !columns.iter().any(|c| c == column) {
        sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Runs the repairs this database has not had yet.
pub(super) async fn run_repairs(pool: &SqlitePool) -> StoreResult<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await?;
    if !ran(pool, "repair-comment-documents-with-duplicate-keys").await? {
        let (comments, entries) = repair_duplicate_keys(pool).await?;
        if comments + entries > 0 {
            tracing::warn!(
                comments,
                entries,
                "repaired stored comments that held a field twice (written by an older hub)"
            );
        }
        mark(pool, "repair-comment-documents-with-duplicate-keys").await?;
    }
    if !ran(pool, "index-tenant-domains").await? {
        // Hubs before 0.1.1 let two tenants claim one domain; the first keeps it.
        sqlx::query(
            "INSERT OR IGNORE INTO tenant_domains (domain, tenant_id) \
             SELECT j.value, t.id FROM tenants t, json_each(t.domains) j ORDER BY t.created_at, t.id",
        )
        .execute(pool)
        .await?;
        mark(pool, "index-tenant-domains").await?;
    }
    if !ran(pool, "pages-for-existing-threads").await? {
        // Threads stored before pages existed get theirs (a crash before `mark` runs this
        // again: `OR IGNORE` and the unique index keep one page a thread).
        sqlx::query(
            "INSERT OR IGNORE INTO pages (id, tenant_id, url_id, url, title, created_at) \
             SELECT lower(hex(randomblob(12))), tenant_id, url_id, max(json_extract(doc, '$.url')), \
             max(json_extract(doc, '$.pageTitle')), min(date_ms) FROM comments \
             GROUP BY tenant_id, url_id",
        )
        .execute(pool)
        .await?;
        mark(pool, "pages-for-existing-threads").await?;
    }
    if !ran(pool, "ready-stream-heads").await? {
        // Deliveries queued before the `ready` column (all 0) get it: the head of each
        // comment's stream is ready. The same statement again after a crash before `mark`
        // finds nothing left to change.
        sqlx::query(BACKFILL_READY).execute(pool).await?;
        mark(pool, "ready-stream-heads").await?;
    }
    Ok(())
}

/// Sets `ready` on every stream's head and clears it on the rest of its waiting deliveries,
/// over the whole outbox: the one-time backfill of a database made before the column (the
/// same statement as PostgreSQL's migration 8).
const BACKFILL_READY: &str =
    "UPDATE webhook_deliveries SET ready = NOT ready WHERE id IN (SELECT s.id FROM webhook_deliveries s \
     WHERE s.status IN ('queued', 'retrying', 'paused') AND s.ready <> (s.position = (SELECT MIN(m.position) \
     FROM webhook_deliveries m WHERE m.tenant_id = s.tenant_id AND m.comment_id = s.comment_id \
     AND m.subscription_id = s.subscription_id AND m.status IN ('queued', 'retrying', 'paused'))))";

/// Whether the repair `name` ran on this database.
async fn ran(pool: &SqlitePool, name: &str) -> StoreResult<bool> {
    let done: Option<String> =
        sqlx::query_scalar("SELECT name FROM schema_migrations WHERE name = ?")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(done.is_some())
}

/// Records that the repair `name` ran.
async fn mark(pool: &SqlitePool, name: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)")
        .bind(name)
        .bind(crate::clock::SystemClock.now().0)
        .execute(pool)
        .await?;
    Ok(())
}

/// Hubs before 0.1.1 stored an uploaded comment field that the upload type did not know
/// (`hasImages`, `tenantId`, …) both as the field and again among the unknown fields, so the
/// JSON held the key twice and every strict read of it failed. Rewrites such comment documents
/// (and timeline payloads copied from them) with each key once, the last value winning.
/// Returns how many comments and timeline entries it rewrote.
async fn repair_duplicate_keys(pool: &SqlitePool) -> StoreResult<(u64, u64)> {
    let comments = repair_table(
        pool,
        "SELECT rowid, doc FROM comments WHERE rowid > ? ORDER BY rowid LIMIT 1000",
        "UPDATE comments SET doc = ? WHERE rowid = ?",
    )
    .await?;
    // After the comments: rewriting a comment's document copies the old one into the event
    // that referred to it (the payload triggers), and this pass then repairs that copy too.
    let entries = repair_table(
        pool,
        "SELECT rowid, payload FROM timeline WHERE rowid > ? AND payload IS NOT NULL \
         AND kind IN ('new-comment', 'updated-comment', 'deleted-comment') ORDER BY rowid LIMIT 1000",
        "UPDATE timeline SET payload = ? WHERE rowid = ?",
    )
    .await?;
    Ok((comments, entries))
}

/// Walks `(rowid, json)` rows in rowid order and rewrites each that is not a readable comment
/// but becomes one when repaired.
async fn repair_table(pool: &SqlitePool, select: &str, update: &str) -> StoreResult<u64> {
    let mut after = 0i64;
    let mut repaired = 0;
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(select).bind(after).fetch_all(pool).await?;
        let Some(&(last, _)) = rows.last() else {
            return Ok(repaired);
        };
        after = last;
        let mut tx = pool.begin().await?;
        for (rowid, json) in rows {
            if serde_json::from_str::<Comment>(&json).is_ok() {
                continue;
            }
            match Comment::from_json_lenient(&json) {
                Ok(c) => {
                    sqlx::query(update)
                        .bind(serde_json::to_string(&c)?)
                        .bind(rowid)
                        .execute(&mut *tx)
                        .await?;
                    repaired += 1;
                }
                Err(e) => {
                    tracing::error!(rowid, error = %e, "a stored comment cannot be read or repaired")
                }
            }
        }
        tx.commit().await?;
    }
}
