//! A real cluster: it answers, isolates databases, survives restarts and crashes, runs
//! unprivileged, and leaves nothing behind when dropped.

use crate::is_gone;
use sqlx::{Connection, PgConnection, PgPool, Row};
use std::time::{Duration, Instant};
use testkit::{PgCluster, PgOptions};

async fn setting(url: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let row = sqlx::query(&format!("SHOW {name}"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    row.get(0)
}

/// The uid a process runs as, from `/proc`.
fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn starts_answers_queries_and_runs_as_an_unprivileged_account() {
    let cluster = PgCluster::start().await.unwrap();
    let pool = PgPool::connect(&cluster.url()).await.unwrap();
    let (sum, db): (i32, String) = sqlx::query_as("SELECT 1 + 1, current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((sum, db.as_str()), (2, "test"));
    assert_eq!(
        setting(&cluster.url(), "listen_addresses").await,
        "127.0.0.1"
    );
    assert_eq!(setting(&cluster.url(), "server_encoding").await, "UTF8");
    assert_eq!(setting(&cluster.url(), "fsync").await, "off");
    assert_eq!(
        setting(&cluster.url(), "port").await,
        cluster.port().to_string()
    );
    // PostgreSQL refuses root: under root the server must have been moved to another account.
    let server_uid = uid_of(cluster.postmaster_pid().unwrap());
    // SAFETY: geteuid has no preconditions.
    let our_uid = unsafe { libc::geteuid() };
    if our_uid == 0 {
        assert_ne!(server_uid, 0);
    } else {
        assert_eq!(server_uid, our_uid);
    }
    pool.close().await;
}

#[tokio::test]
async fn durable_options_keep_fsync_on() {
    let cluster = PgCluster::start_with(PgOptions::durable()).await.unwrap();
    assert_eq!(setting(&cluster.url(), "fsync").await, "on");
    assert_eq!(setting(&cluster.url(), "full_page_writes").await, "on");
    assert_eq!(setting(&cluster.url(), "max_connections").await, "300");
}

#[tokio::test]
async fn databases_are_isolated() {
    let cluster = PgCluster::shared().await.unwrap();
    let a = PgPool::connect(&cluster.database("isolated_a").await.unwrap())
        .await
        .unwrap();
    let b = PgPool::connect(&cluster.database("isolated_b").await.unwrap())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (v TEXT)")
        .execute(&a)
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES ('only in a')")
        .execute(&a)
        .await
        .unwrap();
    let missing = sqlx::query("SELECT v FROM t").fetch_all(&b).await;
    assert!(missing.is_err(), "database b sees a's table");
    sqlx::query("CREATE TABLE t (v TEXT)")
        .execute(&b)
        .await
        .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT v FROM t")
        .fetch_all(&b)
        .await
        .unwrap();
    assert!(rows.is_empty());
    // A second database of the same name is refused, not shared.
    assert!(cluster.database("isolated_a").await.is_err());
    assert!(cluster.database("bad-name; DROP").await.is_err());
}

#[tokio::test]
async fn the_shared_cluster_is_started_once() {
    let first = PgCluster::shared().await.unwrap();
    let second = PgCluster::shared().await.unwrap();
    assert!(std::ptr::eq(first, second));
    assert_eq!(first.postmaster_pid(), second.postmaster_pid());
}

#[tokio::test]
async fn restart_after_stop_or_kill_keeps_committed_data() {
    let cluster = PgCluster::start().await.unwrap();
    let url = cluster.url();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE t (v INT)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);

    cluster.stop().await.unwrap();
    assert!(
        PgConnection::connect(&url).await.is_err(),
        "stopped server answers"
    );
    cluster.start_again().await.unwrap();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO t VALUES (2)")
        .execute(&mut conn)
        .await
        .unwrap();

    // A crash with the connection open: the committed rows survive recovery.
    let old = cluster.postmaster_pid().unwrap();
    cluster.kill().await.unwrap();
    assert!(is_gone(old));
    // Its backends follow the postmaster, but on their own time: each notices the death at its
    // next wait (a clean-clone CI run once got an answer just after the kill). The open
    // connection must fail soon, not necessarily at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sqlx::query("SELECT 1").execute(&mut conn).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "a backend outlived its killed postmaster by 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    cluster.start_again().await.unwrap();
    assert_ne!(cluster.postmaster_pid(), Some(old));
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let rows: Vec<(i32,)> = sqlx::query_as("SELECT v FROM t ORDER BY v")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, vec![(1,), (2,)], "log:\n{}", cluster.log());
}

#[tokio::test]
async fn drop_stops_the_server_and_removes_its_directory() {
    let cluster = PgCluster::start().await.unwrap();
    let dir = cluster.dir().to_owned();
    let pid = cluster.postmaster_pid().unwrap();
    let url = cluster.url();
    assert!(dir.join("data").is_dir());
    let started = Instant::now();
    drop(cluster);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(is_gone(pid), "postmaster {pid} still runs");
    assert!(PgConnection::connect(&url).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Test binaries create a database per test, many at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_databases_at_once() {
    let cluster = PgCluster::shared().await.unwrap();
    let mut created = tokio::task::JoinSet::new();
    for i in 0..24 {
        created.spawn(async move {
            let url = cluster.database(&format!("parallel_{i}")).await.unwrap();
            let mut conn = PgConnection::connect(&url).await.unwrap();
            let (name,): (String,) = sqlx::query_as("SELECT current_database()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(name, format!("parallel_{i}"));
        });
    }
    while let Some(done) = created.join_next().await {
        done.unwrap();
    }
}

/// `keep_in`, what `tools/serve-on-postgres` runs: a cluster in a directory of the caller's
/// that outlives its handle, found running on the next call, keeping its data across a stop.
#[tokio::test]
async fn a_kept_cluster_outlives_its_caller_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = PgCluster::keep_in(dir.path(), port, "kept").await.unwrap();
    assert!(url.ends_with(&format!(":{port}/kept")), "{url}");
    let mut conn = PgConnection::connect(&url).await.unwrap();
    for statement in [
        "CREATE TABLE kept_rows (n int)",
        "INSERT INTO kept_rows VALUES (7)",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    // Found running, same URL; then stopped and started again with its data.
    assert_eq!(
        PgCluster::keep_in(dir.path(), port, "kept").await.unwrap(),
        url
    );
    PgCluster::stop_kept(dir.path()).await.unwrap();
    assert!(PgConnection::connect(&url).await.is_err(), "stopped");
    assert_eq!(
        PgCluster::keep_in(dir.path(), port, "kept").await.unwrap(),
        url
    );
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let n: i32 = sqlx::query("SELECT n FROM kept_rows")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 7);
    conn.close().await.unwrap();
    PgCluster::stop_kept(dir.path()).await.unwrap();
}
