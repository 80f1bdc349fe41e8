//! An outbox written by a hub from before the `ready` column (issue 23) is brought up to date
//! when a newer one opens it: every stream's earliest waiting delivery (queued, retrying or
//! paused) is ready, the rest are not, and the claim hands out the heads.

use crate::common::postgres_database;
use crate::store_contract::fixtures::{claim, claimed_ids};
use fastcomments_hub::store::postgres::PostgresStore;
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::store::Store;
use fastcomments_protocol::Millis;
use sqlx::postgres::PgPoolOptions;

/// (id, comment, subscription, position, status): two streams of `c1` and one of `c2`.
const ROWS: &[(&str, &str, &str, i64, &str)] = &[
    ("d1", "c1", "", 1, "succeeded"),
    ("d2", "c1", "", 2, "retrying"),
    ("d3", "c1", "", 3, "queued"),
    ("d4", "c2", "", 4, "queued"),
    ("d5", "c1", "s", 5, "paused"),
    ("d6", "c1", "s", 6, "paused"),
    ("d7", "c1", "s", 7, "failed"),
];

/// The ready deliveries afterwards.
const READY: &[&str] = &["d2", "d4", "d5"];

fn insert(id: &str, comment: &str, sub: &str, position: i64, status: &str) -> String {
    format!(
        "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, config_domain, \
         subscription_id, url, target_host, method, legacy_token, body, status, attempts, max_attempts, \
         next_attempt_at, created_at, updated_at) VALUES ('{id}', 't1', '{comment}', {position}, 'create', \
         '*', '{sub}', 'https://h.example/', 'h.example:443', 'POST', false, '{{}}', '{status}', 0, 0, 5, 5, 5);"
    )
}

async fn check(store: &dyn Store) {
    let all = store
        .deliveries(&"t1".into(), None, None, 100)
        .await
        .unwrap();
    let mut ready: Vec<&str> = all
        .iter()
        .filter(|d| d.ready && d.status.as_str() != "succeeded")
        .map(|d| d.id.as_str())
        .collect();
    ready.sort();
    assert_eq!(ready, READY, "{all:?}");
    let mut due = claimed_ids(store, &claim(10)).await;
    due.sort();
    assert_eq!(due, ["d2", "d4"]);
    // The heads are claimed now (and were due already): no later due instant to wake for.
    assert_eq!(store.next_due_at(Millis(10)).await.unwrap(), None);
}

/// PostgreSQL: migration 8 over deliveries stored before it.
#[tokio::test]
async fn postgres_migration_marks_the_heads_of_stored_streams() {
    let url = postgres_database().await;
    PostgresStore::connect(&url).await.unwrap();
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    // As a hub from before migration 8 left it.
    let mut script = String::from(
        "DROP INDEX webhook_deliveries_ready; DROP INDEX webhook_deliveries_next_ready; \
         ALTER TABLE webhook_deliveries DROP COLUMN ready; \
         CREATE INDEX webhook_deliveries_by_target ON webhook_deliveries \
         (target_host, subscription_id, next_attempt_at, position) WHERE status IN ('queued', 'retrying'); \
         CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) \
         WHERE status IN ('queued', 'retrying'); \
         DELETE FROM _sqlx_migrations WHERE version IN (8, 10, 14, 17);",
    );
    for (id, comment, sub, position, status) in ROWS {
        script.push_str(&insert(id, comment, sub, *position, status));
    }
    sqlx::raw_sql(&script).execute(&db).await.unwrap();
    db.close().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    check(&store).await;
}

/// SQLite: the column added and its one-time backfill over deliveries stored before it.
#[tokio::test]
async fn sqlite_repair_marks_the_heads_of_stored_streams() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        // As a hub from before the column left it (SQLite drops a column only without indexes
        // on it).
        let mut script = String::from(
            "DROP INDEX webhook_deliveries_ready; DROP INDEX webhook_deliveries_next_ready; \
             ALTER TABLE webhook_deliveries DROP COLUMN ready; \
             CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) \
             WHERE status IN ('queued', 'retrying'); \
             DELETE FROM schema_migrations WHERE name = 'ready-stream-heads';",
        );
        for (id, comment, sub, position, status) in ROWS {
            script.push_str(&insert(id, comment, sub, *position, status));
        }
        db.execute_batch(&script).unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    check(&store).await;
    store.close().await;
}
