//! On PostgreSQL a claim and its release are written in place (heap-only updates): the lease
//! is in no index of the outbox, and its pages keep room for a claimed row's new version. A
//! claim then adds no entry to each of the table's indexes, and leaves no dead one for the
//! next claim's walk over the ready index to step over (issue 23 §2).

use crate::store_contract::fixtures::{
    claim, claimed_ids, create, postgres_database, with_hooks, T0,
};
use fastcomments_hub::store::postgres::PostgresStore;
use fastcomments_hub::store::Store;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::{Duration, Instant};

/// Updates of the outbox's rows so far, and how many of them were heap-only.
async fn updates(db: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_claim_and_its_release_are_written_in_place() {
    let url = postgres_database().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let indexed: Vec<(String,)> = sqlx::query_as(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'webhook_deliveries' \
         AND (indexdef LIKE '%lease_until%' OR indexdef LIKE '%claimed_by%')",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(indexed.is_empty(), "indexes over the claim: {indexed:?}");
    let (options,): (Option<Vec<String>>,) =
        sqlx::query_as("SELECT reloptions FROM pg_class WHERE relname = 'webhook_deliveries'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(options, Some(vec!["fillfactor=50".to_owned()]));

    let t = with_hooks(&store, "t1").await;
    for i in 0..40 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    let before = updates(&db).await;
    let ids = claimed_ids(&store, &claim(T0 + 1)).await;
    assert_eq!(ids.len(), 40);
    store.release_claims(&ids).await.unwrap();
    // The server counts a session's updates when it next idles (about a second later).
    let started = Instant::now();
    let (all, heap_only) = loop {
        let now = updates(&db).await;
        let seen = (now.0 - before.0, now.1 - before.1);
        if seen.0 >= 80 || started.elapsed() > Duration::from_secs(30) {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // 40 claims and 40 releases. Nearly all in place: a page whose rows were claimed may lack
    // room for the release's versions until PostgreSQL prunes it (on a later read).
    assert_eq!(all, 80);
    assert!(heap_only >= 72, "{heap_only} of 80 updates in place");
}
