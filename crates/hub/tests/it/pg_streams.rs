//! A comment's stream on PostgreSQL under an interleaving one SQLite writer never has: a record
//! that ends the stream's head while a queuing of the same stream holds its lock. The record's
//! stream lock waits for the queuing and then cannot see the delivery the queuing inserted (its
//! snapshot is older); the delivery must still be readied when the head ends.

use crate::store_contract::fixtures::{
    claim, claimed_ids, create, outcome, postgres_store_and_pool, record, with_hooks, T0,
};
use fastcomments_hub::records::DeliveryStatus;
use fastcomments_hub::store::{Store, StoreReads};
use std::time::{Duration, Instant};

/// Returns once a session of the database waits for a lock; fails with `never` after 10 s.
async fn until_a_session_waits_for_a_lock(db: &sqlx::PgPool, never: &str) {
    let started = Instant::now();
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(db)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{never}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_record_readies_what_a_queuing_it_waited_for_put_behind_the_head() {
    // Two connections: the queuing's transaction, and the look at who waits.
    let (_, store, db) = postgres_store_and_pool(2).await;
    let t = with_hooks(&store, "t1").await;
    create(&store, &t, "/p", "c").await;
    let head = store.due_deliveries(&claim(T0 + 1)).await.unwrap();
    assert_eq!(head.len(), 1);
    let head = head[0].clone();

    // A queuing of the same stream, as the store runs one: the stream's unfinished rows locked
    // (FOR SHARE), then a delivery behind the head, not ready (the head still waits).
    let mut queuing = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR SHARE")
        .bind(&head.id)
        .execute(&mut *queuing)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, \
         config_domain, subscription_id, url, target_host, method, legacy_token, body, status, \
         attempts, max_attempts, next_attempt_at, created_at, updated_at, ready) \
         SELECT 'behind', tenant_id, comment_id, position + 1, kind, domain, config_domain, \
         subscription_id, url, target_host, method, legacy_token, body, 'queued', 0, 0, \
         next_attempt_at, created_at, updated_at, false FROM webhook_deliveries WHERE id = $1",
    )
    .bind(&head.id)
    .execute(&mut *queuing)
    .await
    .unwrap();

    // The head's success is recorded meanwhile: its stream lock waits for the queuing.
    let recording = {
        let store = store.clone();
        let done = outcome(&head, 1, DeliveryStatus::Succeeded, 0);
        tokio::spawn(async move { record(&store, &[done], T0 + 2).await })
    };
    until_a_session_waits_for_a_lock(&db, "the record never waited for the queuing").await;
    queuing.commit().await.unwrap();
    recording.await.unwrap();

    let (behind, _) = store.delivery(&t, "behind").await.unwrap().unwrap();
    assert!(
        behind.ready,
        "the delivery queued behind the ended head is its stream's head now"
    );
    let next = store.due_deliveries(&claim(T0 + 3)).await.unwrap();
    assert_eq!(
        next.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["behind"]
    );
}

/// Two nodes' claims at once: while one claim holds the first ready deliveries locked (its
/// statement still running), a claim beside it hands out the next ones. It used to pick its
/// candidates without locks, the same first ones, skip each the other held, and come back
/// empty; a dispatcher takes an empty claim for an empty outbox and waits up to a second, so
/// of three nodes draining 10,000 deliveries one sent 93–95 % of them.
#[tokio::test]
async fn a_claim_beside_another_hands_out_what_that_one_holds_not() {
    let (_, store, db) = postgres_store_and_pool(2).await;
    let t = with_hooks(&store, "t1").await;
    for i in 0..10 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    // The other claim: the first four in the claim's order, locked until it ends.
    let mut other = db.begin().await.unwrap();
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries WHERE ready \
         ORDER BY next_attempt_at, position LIMIT 4 FOR UPDATE",
    )
    .fetch_all(&mut *other)
    .await
    .unwrap();
    assert_eq!(held.len(), 4);
    let mut q = claim(T0 + 1);
    (q.per_host, q.limit) = (4, 4);
    let due = claimed_ids(&store, &q).await;
    assert_eq!(due.len(), 4, "handed out {due:?} beside {held:?}");
    assert!(due.iter().all(|id| !held.contains(id)), "{due:?} {held:?}");
    other.rollback().await.unwrap();
}

/// Two writes that end deliveries of the same two streams lock them in one order, whatever
/// order their ids come in, so neither holds one stream while it waits for the other. Held
/// here: the first stream (in the order every writer takes, tenant, comment, subscription) by
/// another transaction; a record of the second stream's head and then the first's waits for it
/// holding nothing, so the second stream can still be taken beside it. A record that locked in
/// its ids' order would hold the second stream while it waited, and a write holding it that
/// then came for the first would deadlock with it.
#[tokio::test]
async fn a_record_locks_its_streams_in_one_order_whatever_order_its_ids_come_in() {
    let (_, store, db) = postgres_store_and_pool(2).await;
    let t = with_hooks(&store, "t1").await;
    create(&store, &t, "/pa", "a").await;
    create(&store, &t, "/pb", "b").await;
    let mut heads = store.due_deliveries(&claim(T0 + 1)).await.unwrap();
    assert_eq!(heads.len(), 2);
    heads.sort_by(|x, y| x.comment_id.cmp(&y.comment_id));
    let (first, second) = (heads[0].clone(), heads[1].clone());

    let mut holder = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR NO KEY UPDATE")
        .bind(&first.id)
        .execute(&mut *holder)
        .await
        .unwrap();

    // The second stream's id first.
    let recording = {
        let store = store.clone();
        let done = [
            outcome(&second, 1, DeliveryStatus::Succeeded, 0),
            outcome(&first, 1, DeliveryStatus::Succeeded, 0),
        ];
        tokio::spawn(async move { record(&store, &done, T0 + 2).await })
    };
    until_a_session_waits_for_a_lock(&db, "the record never waited for the first stream").await;
    let mut beside = db.begin().await.unwrap();
    let taken =
        sqlx::query("SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR NO KEY UPDATE NOWAIT")
            .bind(&second.id)
            .execute(&mut *beside)
            .await;
    assert!(
        taken.is_ok(),
        "the record held the second stream while it waited for the first: {taken:?}"
    );
    beside.rollback().await.unwrap();
    holder.commit().await.unwrap();
    recording.await.unwrap();
    for d in [&first, &second] {
        let (stored, _) = store.delivery(&t, &d.id).await.unwrap().unwrap();
        assert_eq!(stored.status, DeliveryStatus::Succeeded, "{}", d.id);
    }
}
