//! Issue 23 §4: a PostgreSQL server that stops answering with its connections open (frozen,
//! or behind a network that drops packets) ends each store call `Unavailable` within the
//! store timeout, and one that answers is waited for however long its statement runs. A
//! cluster of its own: these tests freeze it.

use fastcomments_hub::ids::TenantId;
use fastcomments_hub::store::postgres::PostgresStore;
use fastcomments_hub::store::{FaultKind, StoreError, StoreReads};
use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(600);

async fn cluster_and_store(name: &str) -> (testkit::PgCluster, String, PostgresStore) {
    let cluster = testkit::PgCluster::start_with(testkit::PgOptions::for_tests())
        .await
        .unwrap();
    let url = cluster.database(name).await.unwrap();
    let store = PostgresStore::connect_within(&url, TIMEOUT).await.unwrap();
    (cluster, url, store)
}

fn unreachable(r: &Result<Option<fastcomments_hub::records::Tenant>, StoreError>) -> bool {
    matches!(
        r,
        Err(StoreError::Unavailable {
            kind: FaultKind::Unreachable,
            ..
        })
    )
}

/// A statement already sent when the server froze (it waits for a lock another session
/// holds): it is ended within the store timeout, where it would have waited for the thaw; the
/// next call too; after the thaw, calls answer again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_ends_each_call_within_the_store_timeout_and_resumes_when_thawed() {
    let (cluster, url, store) = cluster_and_store("frozen").await;
    let id = TenantId::from("t-none");
    assert!(store.tenant(&id).await.unwrap().is_none());
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    holder
        .execute("BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let started = Instant::now();
    let in_flight = {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move { store.tenant(&id).await })
    };
    tokio::time::sleep(TIMEOUT / 4).await;
    let frozen = cluster.freeze().unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("a statement sent before the freeze still waits 10 s later")
        .unwrap();
    let took = started.elapsed();
    assert!(unreachable(&first), "{first:?}");
    assert!(
        took < TIMEOUT + Duration::from_millis(400),
        "the call waited {took:?} for a frozen server (timeout {TIMEOUT:?})"
    );
    let started = Instant::now();
    let second = tokio::time::timeout(Duration::from_secs(10), store.tenant(&id))
        .await
        .expect("a call during the freeze still waits 10 s later");
    assert!(unreachable(&second), "{second:?}");
    assert!(
        started.elapsed() < TIMEOUT + Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );

    frozen.thaw();
    holder.execute("COMMIT").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.tenant(&id).await {
            Ok(None) => break,
            other => assert!(
                Instant::now() < deadline,
                "still failing 10 s after the thaw: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A statement that waits for a lock another session holds, four timeouts long, on a server
/// that answers: the call is not cut, it returns when the lock is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_statement_on_a_server_that_answers_is_not_cut() {
    let (_cluster, url, store) = cluster_and_store("slow").await;
    let id = TenantId::from("t-none");
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    holder
        .execute("BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(TIMEOUT * 4).await;
        holder.execute("COMMIT").await.unwrap();
    });
    let started = Instant::now();
    let r = store.tenant(&id).await;
    assert!(matches!(r, Ok(None)), "{r:?}");
    assert!(
        started.elapsed() >= TIMEOUT * 4,
        "the read did not wait for the lock: {:?}",
        started.elapsed()
    );
    release.await.unwrap();
}
