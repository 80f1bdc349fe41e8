//! Two hub nodes on one PostgreSQL database, each with its own connection pool and listener
//! (issue 11 §2): what node A commits reaches node B's answers at once through
//! `LISTEN/NOTIFY` — B's caches are raised and dropped by the notices, not by a TTL — and
//! when B's notice connection is lost, B falls back to its cache lifetime and serves nothing
//! staler than that.

use crate::common;

use common::{code, TestHub};
use fastcomments_hub::store::postgres::PostgresStore;
use fastcomments_hub::store::Store;
use fastcomments_hub::{HubConfig, SystemClock};
use fastcomments_protocol::Millis;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "pg-notices-token-001";

/// A node over its own connection to `url`.
async fn node(url: &str, cache_ttl: Duration) -> TestHub {
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(url).await.unwrap());
    let config = HubConfig {
        cache_ttl: Some(cache_ttl),
        ..common::admin_config()
    };
    TestHub::over_store(
        store,
        config,
        Arc::new(SystemClock),
        tempfile::tempdir().unwrap(),
    )
    .await
}

/// Polls B's stream from `cursor` until an event mentions `needle`; how long it took.
async fn until_b_sees(
    b: &TestHub,
    cursor: i64,
    needle: &str,
    within: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        let (events, _, _) = b.drain_stream(TOKEN, cursor).await;
        if events.iter().any(|e| e.to_string().contains(needle)) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Polls until `check` holds; how long it took.
async fn until<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn node_b_hears_node_a_at_once_not_after_a_ttl() {
    let url = common::postgres_database().await;
    // An hour: anything B learns within the test, it learns from a notice.
    let a = node(&url, Duration::from_secs(3600)).await;
    let b = node(&url, Duration::from_secs(3600)).await;
    let (t, extra_key, extra_id, cursor) = common::warm_two_nodes(&a, &b, TOKEN).await;

    let created = a.comment(&t, "/shared/", "written on node A").await;
    let id = created["_id"].as_str().unwrap().to_owned();
    let took = until_b_sees(&b, cursor, &id, Duration::from_secs(5)).await;
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(2)),
        "B saw A's event after {took:?}"
    );

    a.api(&t.key).delete_secret(&extra_id).await;
    let took = until(Duration::from_secs(5), || async {
        b.api(&extra_key).secrets().await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(2)),
        "revoked secret still accepted after {took:?}"
    );

    a.api(&t.key).revoke(TOKEN).await;
    let took = until(Duration::from_secs(5), || async {
        let (s, v) = b
            .get(&format!(
                "/integrations/v1/stream?token={TOKEN}&lastFetchDate={cursor}"
            ))
            .await;
        (s, code(&v)) == (StatusCode::FORBIDDEN, "token-revoked")
    })
    .await;
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(2)),
        "revoked token still served after {took:?}"
    );
}

#[tokio::test]
async fn with_its_notice_connection_lost_node_b_serves_nothing_staler_than_its_ttl() {
    let url = common::postgres_database().await;
    let ttl = Duration::from_millis(800);
    let a = node(&url, Duration::from_secs(3600)).await;
    let b = node(&url, ttl).await;
    let t = a.tenant("Shared").await;
    a.connect(&t, TOKEN, true).await;
    let (_, _, cursor) = b.drain_stream(TOKEN, 0).await;

    // Cut every listening connection of the database, again and again, while A writes.
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let cutting = tokio::spawn(async move {
        loop {
            let _ = sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
            )
            .execute(&admin)
            .await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let created = a.comment(&t, "/shared/", "written while B is deaf").await;
    let id = created["_id"].as_str().unwrap().to_owned();
    let took = until_b_sees(&b, cursor, &id, Duration::from_secs(10)).await;
    cutting.abort();
    assert!(
        took.is_some_and(|d| d <= ttl + Duration::from_millis(700)),
        "B answered from a stale cache for {took:?} (TTL {ttl:?})"
    );
}

/// Another node's commit wakes this node's dispatcher at once (`Notice::Deliveries`), not at
/// its next idle tick (up to a second later). The comments are written by a bare store on its
/// own connection, as another node would: node B's own dispatcher learns of them only from the
/// notice. Eight in a row, each must arrive well inside the idle tick: without the notice each
/// would wait 0–1,000 ms, and all eight under 600 ms would happen about 2 % of the time.
#[tokio::test]
async fn another_nodes_commit_wakes_this_nodes_dispatcher_at_once() {
    let url = common::postgres_database().await;
    let b = TestHub::over_store(
        Arc::new(PostgresStore::connect(&url).await.unwrap()),
        HubConfig {
            webhook_allow_private_targets: true,
            cache_ttl: Some(Duration::from_secs(3600)),
            ..common::admin_config()
        },
        Arc::new(SystemClock),
        tempfile::tempdir().unwrap(),
    )
    .await;
    let t = b.tenant("Shared").await;
    let rx = common::receiver::Receiver::with(|_, _| (200, "ok".into())).await;
    let (s, v) = b
        .api(&t.key)
        .put_webhook_config(json!({"domain": "*", "create": {"url": format!("{}/hook", rx.url)}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let other_node: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await.unwrap());
    // Let B's dispatcher fall idle first (its first turns look for work at start).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut waits = Vec::new();
    for i in 0..8u64 {
        let comment = fastcomments_hub::rules::NewCommentInput {
            url_id: "post/1".into(),
            commenter_name: "n".into(),
            comment: format!("from the other node {i}"),
            ..Default::default()
        }
        .into_comment(
            &t.id,
            fastcomments_hub::ids::object_id(),
            fastcomments_protocol::Millis::now(),
        );
        let now = fastcomments_protocol::Millis::now().0;
        let written = Instant::now();
        other_node
            .apply(
                &t.id,
                fastcomments_hub::records::Change::CreateComment(Box::new(comment)),
                Millis(now),
            )
            .await
            .unwrap();
        rx.wait_for(i as usize + 1, 10).await;
        waits.push(written.elapsed());
        // Somewhere else in B's idle second each time.
        tokio::time::sleep(Duration::from_millis(137 * (i + 1) % 900)).await;
    }
    assert!(
        waits.iter().all(|w| *w < Duration::from_millis(600)),
        "deliveries waited {waits:?}"
    );
}

/// A node hears the other nodes' notices, not its own: what it committed, it has applied
/// already (a single SQLite hub has no notices at all). Its own came back through its
/// listener, and each queued delivery woke its dispatcher twice: two claims for each webhook
/// written one at a time, the second finding nothing.
#[tokio::test]
async fn a_node_hears_the_others_notices_not_its_own() {
    use crate::store_contract::fixtures::{create, postgres_database, tenant};
    let url = postgres_database().await;
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    let (mut heard_by_a, mut heard_by_b) = (a.notices().unwrap(), b.notices().unwrap());
    let t = tenant(&a, "t1").await;
    create(&a, &t, "/p", "c").await;
    let on_b = tokio::time::timeout(Duration::from_secs(5), heard_by_b.recv()).await;
    assert!(
        matches!(on_b, Ok(Ok(_))),
        "B heard nothing of A's commit: {on_b:?}"
    );
    // A's own notices would have arrived with B's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let on_a = heard_by_a.try_recv();
    assert!(on_a.is_err(), "A heard its own notice: {on_a:?}");
}
