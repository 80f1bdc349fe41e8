//! What a claim costs on PostgreSQL (issue 23 §2). A claim and its release are written in
//! place (heap-only updates): the lease is in no index of the outbox, and its pages keep room
//! for a claimed row's new version, so a claim adds no entry to each of the table's indexes
//! and leaves no dead one for the next claim's walk to step over. And a tenant at its
//! in-flight limit costs a claim one lookup per subscription, not a read of its backlog. And
//! the statements that walk one comment's stream read that stream, whatever the statistics
//! say.

use crate::store_contract::fixtures::{
    claim, claimed_ids, create, edit, outcome, postgres_store_and_pool, record, subscription,
    tenant, with_hooks, T0,
};
use fastcomments_hub::ids::TenantId;
use fastcomments_hub::records::{
    DeliveryCounts, DeliveryFilter, DeliveryStatus, RecoverTarget, Recovery,
};
use fastcomments_hub::store::postgres::{prune_sql, PostgresStore, CLAIM_SQL, COPIES_SQL};
use fastcomments_hub::store::{Store, StoreReads};
use fastcomments_protocol::Millis;
use sqlx::postgres::PgPool;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Takes the outbox's statistics now (`ANALYZE`, or `VACUUM ANALYZE`), so what follows is
/// planned on what it holds at this moment.
async fn analyze(db: &PgPool, how: &str) {
    sqlx::query(&format!("{how} webhook_deliveries"))
        .execute(db)
        .await
        .unwrap();
}

/// Updates of the outbox's rows so far, and how many of them were heap-only.
async fn updates(db: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

/// A store on a new database, and a connection of its own to look at that database with.
async fn opened() -> (PostgresStore, PgPool) {
    let (_, store, db) = opened_at_url().await;
    (store, db)
}

/// [`opened`], with the database's URL (to open the store again).
async fn opened_at_url() -> (String, PostgresStore, PgPool) {
    postgres_store_and_pool(1).await
}

#[tokio::test]
async fn a_claim_and_its_release_are_written_in_place() {
    let (store, db) = opened().await;
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
    // The server counts a session's updates when it next idles (a second or more later); the
    // queuing's own updates (its ready flags, never in place) may be counted after `before`.
    let started = Instant::now();
    let heap_only = loop {
        let now = updates(&db).await;
        if now.1 - before.1 >= 72 || started.elapsed() > Duration::from_secs(30) {
            break now.1 - before.1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // 40 claims and 40 releases. Nearly all in place: a page whose rows were claimed may lack
    // room for the release's versions until PostgreSQL prunes it (on a later read).
    assert!(heap_only >= 72, "{heap_only} of 80 updates in place");
}

/// The claim's plan, run (`EXPLAIN ANALYZE`, rolled back) with `skip_tenants` left out.
async fn claim_plan(db: &PgPool, skip_tenants: &[&str]) -> serde_json::Value {
    let mut tx = db.begin().await.unwrap();
    let none: Vec<String> = Vec::new();
    let (plan,): (serde_json::Value,) =
        sqlx::query_as(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {CLAIM_SQL}"))
            .bind(T0 + 1)
            .bind(&none)
            .bind(skip_tenants)
            .bind(32i64)
            .bind(&none)
            .bind(64i64)
            .bind("explain")
            .bind(60_000i64)
            .bind(&none)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.rollback().await.unwrap();
    plan
}

/// Rows the plan's nodes read and threw away, all nodes together.
fn removed(node: &serde_json::Value) -> u64 {
    let own = ["Rows Removed by Filter", "Rows Removed by Index Recheck"]
        .iter()
        .filter_map(|k| node[k].as_u64())
        .sum::<u64>();
    own + node["Plans"]
        .as_array()
        .map_or(0, |plans| plans.iter().map(removed).sum())
}

/// Tenant `t1` with subscription `s1` to everything, and `comments` new comments (each a
/// delivery to it).
async fn subscribed_with(store: &PostgresStore, comments: usize) {
    let t = tenant(store, "t1").await;
    store
        .create_subscription(&subscription("s1", &t, "https://fan.example/"))
        .await
        .unwrap();
    for i in 0..comments {
        create(store, &t, &format!("/p{i}"), "c").await;
    }
}

#[tokio::test]
async fn a_full_tenants_subscription_is_skipped_without_reading_its_backlog() {
    let (store, db) = opened().await;
    subscribed_with(&store, 300).await;
    let open = claim_plan(&db, &[]).await;
    assert_eq!(open[0]["Plan"]["Actual Rows"].as_u64(), Some(32), "{open}");
    // Not through the next-due index (a walk over every host's due rows with many hosts).
    assert!(
        !open.to_string().contains("webhook_deliveries_next_ready"),
        "{open}"
    );
    let full = claim_plan(&db, &["t1"]).await;
    assert_eq!(full[0]["Plan"]["Actual Rows"].as_u64(), Some(0), "{full}");
    assert!(
        removed(&full[0]["Plan"]) < 10,
        "rows read and skipped: {full}"
    );
}

/// Scans of the outbox's index `index`, counted as [`outbox_scans_once_closed`] counts.
async fn index_scans_once_closed(db: &PgPool, store: PostgresStore, index: &str) -> i64 {
    wait_alone(db, store).await;
    let (scans,): (i64,) =
        sqlx::query_as("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1")
            .bind(index)
            .fetch_one(db)
            .await
            .unwrap();
    scans
}

/// Closes `store` and waits until no other session of the database is left (at most 30 s),
/// so that the server counted what they did. And this test's own connection's counts too: a
/// live session hands its counts over at most once a second, so a row it read a moment ago
/// (`add_history`'s) could otherwise land in the next window measured.
async fn wait_alone(db: &PgPool, store: PostgresStore) {
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(db)
        .await
        .unwrap();
    store.close().await;
    let started = Instant::now();
    loop {
        let (others,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(db)
        .await
        .unwrap();
        if others == 0 || started.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sequential scans of the outbox and scans of its index of a target's deliveries, as the
/// server counted them once every other session of the database ended (a session's counts
/// reach the view when it idles, up to ten seconds later, or when it ends).
async fn outbox_scans_once_closed(db: &PgPool, store: PostgresStore) -> (i64, i64) {
    wait_alone(db, store).await;
    sqlx::query_as(
        "SELECT t.seq_scan, i.idx_scan FROM pg_stat_user_tables t, pg_stat_user_indexes i \
         WHERE t.relname = 'webhook_deliveries' AND i.indexrelname = 'webhook_deliveries_of_target'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

/// Pausing, resuming and removing a subscription find its deliveries by tenant and
/// subscription, through the index of a target's deliveries, on an outbox just filled (statistics still
/// describing an empty table): never a walk over everyone's deliveries. The outbox has no
/// index over the subscription alone, which each queued delivery and each record paid for.
#[tokio::test]
async fn a_subscriptions_deliveries_are_found_without_reading_the_outbox() {
    let (url, store, db) = opened_at_url().await;
    let (busy, quiet) = (tenant(&store, "t1").await, tenant(&store, "t2").await);
    for (id, t, url) in [
        ("s1", &busy, "https://busy.example/"),
        ("s2", &quiet, "https://quiet.example/"),
    ] {
        store
            .create_subscription(&subscription(id, t, url))
            .await
            .unwrap();
    }
    for i in 0..300 {
        create(&store, &busy, &format!("/p{i}"), "c").await;
    }
    create(&store, &quiet, "/q", "c").await;
    let only_subscription: Vec<(String,)> = sqlx::query_as(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'webhook_deliveries' \
         AND indexdef LIKE '%(subscription_id)%'",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(only_subscription.is_empty(), "{only_subscription:?}");
    let before = outbox_scans_once_closed(&db, store).await;
    let store = PostgresStore::connect(&url).await.unwrap();
    let s2 = "s2";
    store
        .set_subscription_enabled(
            &quiet,
            s2,
            false,
            Some("test"),
            fastcomments_protocol::Millis(T0 + 1),
        )
        .await
        .unwrap();
    store
        .set_subscription_enabled(
            &quiet,
            s2,
            true,
            None,
            fastcomments_protocol::Millis(T0 + 2),
        )
        .await
        .unwrap();
    store
        .delete_subscription(&quiet, s2, fastcomments_protocol::Millis(T0 + 3))
        .await
        .unwrap();
    let after = outbox_scans_once_closed(&db, store).await;
    assert!(
        after.1 >= before.1 + 3,
        "{} of 3 statements went through the target's index",
        after.1 - before.1
    );
    assert_eq!(after.0, before.0, "the outbox was read whole");
}

/// The statements that walk one comment's stream (locking the streams a record ends,
/// settling their heads, the head check of a new delivery) have one index that serves them,
/// `webhook_deliveries_unsent_by_stream`: no other index of the outbox begins with two or more
/// of the stream's columns. With no statistics yet (an outbox filled by an upload a moment ago),
/// PostgreSQL priced such an index like the stream's own and took the smaller one: the recover
/// index, over (tenant, subscription), a walk over the whole target's deliveries for each
/// stream. A record of 79 deliveries took a second on 10,000 (the `nodes_delivery` bench with
/// `--fill upload` and auto_explain).
#[tokio::test]
async fn only_the_stream_index_begins_with_the_streams_columns() {
    let (_store, db) = opened().await;
    let indexes: Vec<(String, Vec<Option<String>>)> = sqlx::query_as(
        "SELECT i.relname::text, array_agg(a.attname::text ORDER BY k.ord) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE t.relname = 'webhook_deliveries' GROUP BY i.relname",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(indexes.len() > 3, "{indexes:?}");
    let stream = ["tenant_id", "comment_id", "subscription_id"];
    for (name, columns) in &indexes {
        // An expression (no column name) ends the prefix a stream's lookup could use.
        let leading = columns
            .iter()
            .take_while(|c| c.as_deref().is_some_and(|c| stream.contains(&c)))
            .count();
        assert!(
            leading < 2 || name == "webhook_deliveries_unsent_by_stream",
            "{name} begins with {leading} of the stream's columns: {columns:?}"
        );
    }
}

/// Claims and records as sent every due delivery, `limit` per claim, until none is left;
/// returns the claims that found some and the deliveries sent.
async fn drain(store: &PostgresStore, limit: u64) -> (usize, usize) {
    let (mut claims, mut sent) = (0, 0);
    loop {
        let mut q = claim(T0 + 1);
        q.limit = limit;
        let due = store.due_deliveries(&q).await.unwrap();
        if due.is_empty() {
            return (claims, sent);
        }
        claims += 1;
        sent += due.len();
        let outcomes: Vec<_> = due
            .iter()
            .map(|d| outcome(d, 1, DeliveryStatus::Succeeded, 0))
            .collect();
        record(store, &outcomes, T0 + 2).await;
    }
}

/// A claim on an outbox whose statistics were taken while it was drained (every delivery
/// sent, none ready: what autovacuum's ANALYZE finds between two bursts) reads what it hands
/// out, not the ready deliveries queued since. With those statistics every index over ready
/// rows looked empty, so PostgreSQL walked the next-due index for the pairs and the
/// candidates, and for the lock of each row it hands out, a walk over every ready row per
/// row: a recover of 30,000 after such an ANALYZE drained at 417 deliveries/s (the
/// `nodes_delivery` bench with pg_stat_statements: 70 s in claims), against 7,000 without.
#[tokio::test]
async fn a_claim_after_statistics_of_a_drained_outbox_reads_only_what_it_hands_out() {
    let (store, db) = opened().await;
    let t = with_hooks(&store, "t1").await;
    for i in 0..400 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    assert_eq!(drain(&store, 100).await.1, 400);
    analyze(&db, "VACUUM ANALYZE").await;
    for i in 0..400 {
        create(&store, &t, &format!("/q{i}"), "c").await;
    }
    let plan = claim_plan(&db, &[]).await;
    assert_eq!(plan[0]["Plan"]["Actual Rows"].as_u64(), Some(32), "{plan}");
    assert!(
        removed(&plan[0]["Plan"]) < 100,
        "rows read and skipped: {plan}"
    );
    assert!(
        !plan.to_string().contains("webhook_deliveries_next_ready"),
        "{plan}"
    );
    // The next-due index is still the next due instant's way (its one reader).
    let due = store.next_due_at(Millis(0)).await.unwrap();
    assert_eq!(due, Some(Millis(T0)));
    let scans = index_scans_once_closed(&db, store, "webhook_deliveries_next_ready").await;
    assert!(scans >= 1, "{scans}");
}

/// The dispatcher's sessions plan each statement with its values at every call. The claim is
/// a prepared statement, parsed once per session (parsing it at each call was a twentieth of
/// PostgreSQL's work in a drain), and after five calls PostgreSQL's plan cache may swap a
/// prepared statement to its generic plan when that looks no dearer: the claim's generic plan
/// cannot see what the arrays of left-out rows hold nor the small per-pair `LIMIT`, and read
/// every due delivery of a pair at each claim (a bitmap scan and a sort, 46 ms for 64 rows on
/// 30,000, BENCHMARKS.md).
#[tokio::test]
async fn the_dispatchers_sessions_plan_every_call_with_its_values() {
    let (store, _db) = opened().await;
    let mode = store.bookkeeping_setting("plan_cache_mode").await.unwrap();
    assert_eq!(mode, "force_custom_plan");
    // And still without waiting for the log's flush (`webhooks.rs`).
    let commit = store
        .bookkeeping_setting("synchronous_commit")
        .await
        .unwrap();
    assert_eq!(commit, "off");
}

/// `/metrics` reads the outbox's open deliveries (waiting, or failed for good), not every
/// delivery the retention keeps: its gauges are refreshed each second a scraper (anyone: the
/// endpoint is public) asks, and a count by state over a month of sent deliveries read the
/// whole table each time (0.7 s a refresh on 1,000,000 rows, `psql`).
#[tokio::test]
async fn the_outbox_gauges_read_only_open_deliveries() {
    let (url, store, db) = opened_at_url().await;
    let t = with_hooks(&store, "t1").await;
    for i in 0..600 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    assert_eq!(drain(&store, 100).await.1, 600);
    add_history(&db, &t, 20_000).await;
    for i in 0..3 {
        create(&store, &t, &format!("/q{i}"), "c").await;
    }
    analyze(&db, "ANALYZE").await;
    let before = outbox_scans_once_closed(&db, store).await;
    let store = PostgresStore::connect(&url).await.unwrap();
    let stats = store.webhook_stats().await.unwrap();
    assert!(
        stats.by_status.contains(&(DeliveryStatus::Queued, 3)),
        "{stats:?}"
    );
    assert_eq!(stats.oldest_pending_at, Some(T0));
    let after = outbox_scans_once_closed(&db, store).await;
    assert_eq!(after.0, before.0, "sequential scans of the outbox");
}

/// Recording a healthy subscription's successes writes no subscription row: its failing streak
/// is already ended. Each record rewrote every subscription it touched (a new row version per
/// batch on a small, hot table; with fan-out, ten per batch).
#[tokio::test]
async fn a_healthy_subscriptions_successes_leave_it_unwritten() {
    let (store, db) = opened().await;
    subscribed_with(&store, 40).await;
    let written = |db: PgPool| async move {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'webhook_subscriptions'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        n
    };
    assert_eq!(drain(&store, 10).await, (4, 40));
    // The server counts a session's writes when it idles or ends.
    let db2 = db.clone();
    wait_alone(&db, store).await;
    assert_eq!(written(db2).await, 0, "subscription rows written");
}

/// Scans of each of the outbox's indexes so far, as the server counted them once every other
/// session ended; the store is opened again at `url` for what comes next.
async fn index_scans_between(
    db: &PgPool,
    store: PostgresStore,
    url: &str,
) -> (HashMap<String, i64>, PostgresStore) {
    wait_alone(db, store).await;
    let scans: Vec<(String, i64)> = sqlx::query_as(
        "SELECT indexrelname::text, idx_scan FROM pg_stat_user_indexes \
         WHERE relname = 'webhook_deliveries'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    (
        scans.into_iter().collect(),
        PostgresStore::connect(url).await.unwrap(),
    )
}

/// A tenant's delivery log filtered by a finished state reads that tenant's deliveries, not
/// every tenant's finished ones, whatever the statistics say; the retention still reads the
/// finished ones by age. With statistics taken while the outbox held only waiting deliveries,
/// the index of finished deliveries looked empty and PostgreSQL walked it for the log (every
/// tenant's sent deliveries, filtered: 136 ms on 200,000 in `psql`, for 25 rows).
#[tokio::test]
async fn a_tenants_log_of_sent_deliveries_reads_that_tenant_only() {
    let (url, store, db) = opened_at_url().await;
    let (busy, quiet) = (
        with_hooks(&store, "t1").await,
        with_hooks(&store, "t2").await,
    );
    for i in 0..400 {
        create(&store, &busy, &format!("/p{i}"), "c").await;
    }
    create(&store, &quiet, "/q", "c").await;
    analyze(&db, "ANALYZE").await;
    assert_eq!(drain(&store, 100).await.1, 401);
    let (before, store) = index_scans_between(&db, store, &url).await;
    let log = store
        .deliveries(&quiet, Some(DeliveryStatus::Succeeded), None, 25)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    let (after, store) = index_scans_between(&db, store, &url).await;
    let read = |index: &str| after[index] - before[index];
    assert_eq!(
        read("webhook_deliveries_finished_at"),
        0,
        "the log walked the index of every finished delivery"
    );
    assert_eq!(read("webhook_deliveries_by_tenant"), 1, "{after:?}");
    // The retention's way: the index is usable by its statement (on a table this small the
    // planner may rightly prefer reading it whole, so that choice is taken away here).
    let mut tx = db.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {}", prune_sql()))
        .bind(i64::MAX)
        .bind(1000i64)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        plan.iter()
            .any(|(l,)| l.contains("webhook_deliveries_finished_at")),
        "{plan:?}"
    );
    assert_eq!(
        store
            .prune_deliveries(Millis(i64::MAX), 1000)
            .await
            .unwrap(),
        401
    );
}

/// Recovers everything `t`'s per-domain configurations were sent, `page` copies at a time,
/// to the end; returns how many were queued.
async fn recover_all(store: &PostgresStore, t: &TenantId, page: u64) -> u64 {
    let r = Recovery {
        id: "r1".into(),
        tenant_id: t.clone(),
        target: RecoverTarget::Config("*".into()),
        since: 0,
        until: i64::MAX,
        cursor: (0, String::new()),
        queued: 0,
        started_at: T0,
        finished_at: None,
    };
    let lease = Millis(T0 + 60_000);
    store.begin_recovery(&r, Millis(T0), lease).await.unwrap();
    let mut now = r;
    while now.finished_at.is_none() {
        now = store
            .recover_page(&now, page, Millis(T0 + 20), lease)
            .await
            .unwrap();
    }
    now.queued
}

/// A recover's page takes its copies' bodies from their originals in one `INSERT … SELECT`,
/// joining the page's ids to the outbox: each original by its primary key, whatever the
/// statistics say. Taken while the outbox was empty, they price a read of the whole table
/// low; a page that read it whole would make a recover of N changes cost N² / page rows. The
/// insert's plan is looked at itself: the outbox's scan counts over a whole recover also
/// count the page's other statements, whose plans on a table this small may be a sequential
/// scan as well (two in one clean-clone CI run).
#[tokio::test]
async fn a_recover_page_finds_its_originals_by_key() {
    let (url, store, db) = opened_at_url().await;
    analyze(&db, "VACUUM ANALYZE").await;
    let t = with_hooks(&store, "t1").await;
    for i in 0..400 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    assert_eq!(drain(&store, 100).await.1, 400);
    let originals: Vec<String> = sqlx::query_scalar("SELECT id FROM webhook_deliveries")
        .fetch_all(&db)
        .await
        .unwrap();
    let n = originals.len();
    let text = |v: &str| vec![v.to_owned(); n];
    let ids: Vec<String> = (0..n).map(|i| format!("copy{i}")).collect();
    let (plan,): (serde_json::Value,) =
        sqlx::query_as(&format!("EXPLAIN (FORMAT JSON) {COPIES_SQL}"))
            .bind(&ids)
            .bind(&originals)
            .bind(text("https://hooks.example/create"))
            .bind(text("hooks.example"))
            .bind(text("PUT"))
            .bind(vec![false; n])
            .bind(text("queued"))
            .bind(vec![false; n])
            .bind(T0 + 20)
            .fetch_one(&db)
            .await
            .unwrap();
    let plan = plan.to_string();
    assert!(
        !plan.contains("Seq Scan") && plan.contains("webhook_deliveries_pkey"),
        "{plan}"
    );
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(recover_all(&store, &t, 150).await, 400);
    let (copies,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM webhook_deliveries c JOIN webhook_deliveries o \
         ON o.id = c.recovered_from AND o.body = c.body AND o.position = c.position",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(copies, 400);
}

/// A whole recover on an outbox of 20,000 deliveries whose statistics were taken while it was
/// empty reads the outbox through its indexes only: the check for a recover running, each
/// page's read of its originals, the lock of their streams and the copies' insert. On a table
/// of a few hundred rows a sequential scan may rightly be the cheapest way (one CI run saw two
/// in the test above); at the size where a scan costs, none may be one.
#[tokio::test]
async fn a_recover_on_a_large_outbox_reads_it_through_indexes_only() {
    let (url, store, db) = opened_at_url().await;
    analyze(&db, "VACUUM ANALYZE").await;
    let (t, other) = (
        with_hooks(&store, "t1").await,
        with_hooks(&store, "t2").await,
    );
    for i in 0..300 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    create(&store, &other, "/q", "c").await;
    assert_eq!(drain(&store, 100).await.1, 301);
    add_history(&db, &other, 20_000).await;
    let (before, _) = outbox_scans_once_closed(&db, store).await;
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(recover_all(&store, &t, 100).await, 300);
    let (after, _) = outbox_scans_once_closed(&db, store).await;
    assert_eq!(
        after - before,
        0,
        "sequential scans of the outbox by the recover"
    );
}

/// Adds `n` sent deliveries to `tenant`'s history, older copies of one of its sent ones: a
/// retention period's worth of them, made by the database (on a few hundred rows, reading the
/// table whole is rightly the cheapest way to count anything).
async fn add_history(db: &PgPool, tenant: &TenantId, n: i64) {
    let added = sqlx::query(
        "INSERT INTO webhook_deliveries (id, tenant_id, comment_id, position, kind, domain, \
           config_domain, url, target_host, method, legacy_token, body, status, attempts, \
           max_attempts, next_attempt_at, created_at, updated_at, subscription_id, ready) \
         SELECT 'history-' || g, tenant_id, comment_id, position - g, kind, domain, \
           config_domain, url, target_host, method, legacy_token, body, 'succeeded', attempts, \
           max_attempts, next_attempt_at, created_at - g, updated_at, subscription_id, false \
         FROM (SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND status = 'succeeded' \
               LIMIT 1) d, generate_series(1, $2) g",
    )
    .bind(tenant.as_str())
    .bind(n)
    .execute(db)
    .await
    .unwrap();
    assert_eq!(added.rows_affected(), n as u64);
}

/// Rows the server read from the outbox so far (by sequential scans, and fetched through any
/// of its indexes), counted once every other session ended; the store is opened again at
/// `url` for what comes next.
async fn outbox_rows_read_between(
    db: &PgPool,
    store: PostgresStore,
    url: &str,
) -> (i64, PostgresStore) {
    wait_alone(db, store).await;
    let (read,): (i64,) = sqlx::query_as(
        "SELECT seq_tup_read + COALESCE(idx_tup_fetch, 0) FROM pg_stat_user_tables \
         WHERE relname = 'webhook_deliveries'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    (read, PostgresStore::connect(url).await.unwrap())
}

/// The outbox rows `work` read, counted as [`outbox_rows_read_between`] counts them, and the
/// store opened again for what comes next.
async fn outbox_rows_read_by(
    db: &PgPool,
    store: PostgresStore,
    url: &str,
    work: impl AsyncFnOnce(&PostgresStore),
) -> (i64, PostgresStore) {
    let (before, store) = outbox_rows_read_between(db, store, url).await;
    work(&store).await;
    let (after, store) = outbox_rows_read_between(db, store, url).await;
    (after - before, store)
}

/// A tenant's counts by state (the admin page asks for them every 2 s while it is open) read
/// its unsent deliveries and at most the bound of its sent ones, with the
/// statistics of a table filled since and with those of the filled one: a count by state over
/// the tenant's deliveries read every one the retention keeps (150 ms a poll on a tenant of
/// 900,000 sent ones, `psql`).
#[tokio::test]
async fn a_tenants_counts_read_its_unsent_deliveries_and_a_bounded_share_of_its_history() {
    let (url, mut store, db) = opened_at_url().await;
    let (busy, other) = (
        with_hooks(&store, "t1").await,
        with_hooks(&store, "t2").await,
    );
    for i in 0..600 {
        create(&store, &busy, &format!("/p{i}"), "c").await;
    }
    create(&store, &other, "/q", "c").await;
    assert_eq!(drain(&store, 100).await.1, 601);
    add_history(&db, &busy, 20_000).await;
    for i in 0..3 {
        create(&store, &busy, &format!("/r{i}"), "c").await;
    }
    let expected = DeliveryCounts {
        queued: 3,
        succeeded: 51,
        ..Default::default()
    };
    for analyzed in [false, true] {
        if analyzed {
            analyze(&db, "ANALYZE").await;
        }
        let (read, again) = outbox_rows_read_by(&db, store, &url, async |s| {
            assert_eq!(s.delivery_counts(&busy, 50).await.unwrap(), expected);
        })
        .await;
        // The 3 waiting ones by state, then the tenant's newest 3 + 51 by tenant.
        assert!(
            read <= 3 + 3 + 51,
            "rows read for the counts (analyzed: {analyzed}): {read}"
        );
        store = again;
    }
}

/// The hosted API's pending events (a page, and their count: what the official SDKs call)
/// and a delivery log filtered by an unsent state (the API's and the queue page's) read the
/// tenant's deliveries in that state, not its history: one delivery retrying and one failed
/// since before 20,000 sent ones are found by reading them, whatever the statistics say.
/// Filtered by state over the tenant's deliveries, a page walked them newest first until it
/// found what it shows, and the count read them all (340 ms a call on 1,000,000 in `psql`).
#[tokio::test]
async fn pending_events_and_logs_by_state_read_that_state_only() {
    let (url, mut store, db) = opened_at_url().await;
    let t = with_hooks(&store, "t1").await;
    for i in 0..3 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    assert_eq!(drain(&store, 100).await.1, 3);
    add_history(&db, &t, 20_000).await;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = CASE id WHEN 'history-20000' THEN 'retrying' \
         ELSE 'failed' END WHERE id IN ('history-20000', 'history-19999')",
    )
    .execute(&db)
    .await
    .unwrap();
    let failed = DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        limit: 25,
        ..Default::default()
    };
    let pending = DeliveryFilter {
        pending: true,
        limit: 100,
        ..Default::default()
    };
    for analyzed in [false, true] {
        if analyzed {
            analyze(&db, "ANALYZE").await;
        }
        let (read, again) = outbox_rows_read_by(&db, store, &url, async |s| {
            let page = s.find_deliveries(&t, &pending).await.unwrap();
            assert_eq!(
                page.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
                ["history-20000"]
            );
            assert_eq!(s.count_deliveries(&t, &pending).await.unwrap(), 1);
            let log = s.find_deliveries(&t, &failed).await.unwrap();
            assert_eq!(log.len(), 1);
            assert_eq!(log[0].id, "history-19999");
            let api_log = s
                .deliveries(&t, Some(DeliveryStatus::Failed), None, 25)
                .await
                .unwrap();
            assert_eq!(api_log, log);
        })
        .await;
        assert!(
            read <= 10,
            "rows read for the pages and the count (analyzed: {analyzed}): {read}"
        );
        store = again;
    }
}

/// A comment's next change and its record read what waits in the comment's stream, not the
/// stream's sent history: a stream of 3,000 sent deliveries (a comment voted on for a month,
/// or recovered again and again) costs its queuing, its claim and its record a few rows,
/// with statistics taken before the history and after it. The stream's lock and its head's
/// settle walked every delivery of the stream for its state: with a recover's copies, each
/// the third of its stream, the streams' lock took three times as long as in the first drain
/// (the `nodes_delivery` bench with `--recover` and pg_stat_statements).
#[tokio::test]
async fn a_streams_next_delivery_reads_what_waits_in_it_not_its_history() {
    let (url, mut store, db) = opened_at_url().await;
    let t = with_hooks(&store, "t1").await;
    let c = create(&store, &t, "/p", "c").await;
    assert_eq!(drain(&store, 10).await.1, 1);
    add_history(&db, &t, 3_000).await;
    for (i, analyzed) in [false, true].into_iter().enumerate() {
        if analyzed {
            analyze(&db, "VACUUM ANALYZE").await;
        }
        let (read, again) = outbox_rows_read_by(&db, store, &url, async |s| {
            edit(s, &t, &c.id, &format!("edit {i}"), T0 + 1).await;
            assert_eq!(drain(s, 10).await.1, 1);
        })
        .await;
        assert!(
            read <= 20,
            "rows read for a change of a stream with 3,000 sent (analyzed: {analyzed}): {read}"
        );
        store = again;
    }
}

/// Records after statistics of a drained outbox (every delivery sent: what autovacuum's
/// ANALYZE finds between two bursts) read their own streams, not every delivery waiting: a
/// recover's 10,000 copies drained at 0.70-0.93x of the first drain after a `VACUUM ANALYZE`,
/// and at 1.09-1.10x without it (the `nodes_delivery` bench with `--recover`).
#[tokio::test]
async fn records_after_statistics_of_a_drained_outbox_read_their_streams() {
    let (url, store, db) = opened_at_url().await;
    let t = with_hooks(&store, "t1").await;
    for i in 0..400 {
        create(&store, &t, &format!("/p{i}"), "c").await;
    }
    assert_eq!(drain(&store, 100).await.1, 400);
    analyze(&db, "VACUUM ANALYZE").await;
    for i in 0..400 {
        create(&store, &t, &format!("/q{i}"), "c").await;
    }
    let (read, _) = outbox_rows_read_by(&db, store, &url, async |s| {
        assert_eq!(drain(s, 10).await.1, 400);
    })
    .await;
    // Each delivery: its claim, its stream's lock, its settle and its head check.
    assert!(
        read <= 400 * 8,
        "rows read to send 400 in claims of 10: {read}"
    );
}
