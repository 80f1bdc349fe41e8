//! The cluster goes away with the process that started it, however that process ends:
//! `pg-cluster` (this crate's binary) starts one, and is then killed or exits without running
//! destructors, as a test process does.

use crate::is_gone;
use sqlx::{Connection, PgConnection};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Started {
    child: Child,
    url: String,
    dir: PathBuf,
    postmaster: u32,
}

fn start(args: &[&str]) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pg-cluster"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut field = |name: &str| -> String {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(&format!("{name}="))
            .unwrap_or_else(|| panic!("expected {name}=…, got {line:?}"))
            .to_owned()
    };
    let url = field("url");
    let dir = PathBuf::from(field("dir"));
    let postmaster = field("postmaster").parse().unwrap();
    Started {
        child,
        url,
        dir,
        postmaster,
    }
}

/// Waits until the server is gone and its directory removed.
async fn assert_cleaned_up(started: &Started) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !is_gone(started.postmaster) || started.dir.exists() {
        assert!(
            Instant::now() < deadline,
            "30 s after its owner ended: postmaster {} gone: {}, {} exists: {}",
            started.postmaster,
            is_gone(started.postmaster),
            started.dir.display(),
            started.dir.exists()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(PgConnection::connect(&started.url).await.is_err());
}

#[tokio::test]
async fn a_killed_owner_leaves_no_server_and_no_directory() {
    let mut started = start(&[]);
    // It really runs until then.
    PgConnection::connect(&started.url)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    started.child.kill().unwrap();
    started.child.wait().unwrap();
    assert_cleaned_up(&started).await;
}

#[tokio::test]
async fn an_owner_exiting_without_destructors_stops_the_shared_cluster() {
    let mut started = start(&["--exit"]);
    assert!(started.child.wait().unwrap().success());
    assert_cleaned_up(&started).await;
}

#[tokio::test]
async fn closing_the_owners_stdin_ends_it_cleanly() {
    let mut started = start(&[]);
    drop(started.child.stdin.take());
    assert!(started.child.wait().unwrap().success());
    // Dropped in the process: gone by the time it exits.
    assert!(!started.dir.exists());
    assert_cleaned_up(&started).await;
}
