//! `fastcomments sync` killed with SIGKILL in the middle of its initial upload, and in the
//! middle of an event catch-up, then started again on the same state file and mirror,
//! converges to the hub's exact state — for both protocol generations.

use crate::sync_support;

use fastcomments_hub::HubConfig;
use fastcomments_integration::{IntegrationState, SqliteMirror};
use fastcomments_protocol::UploadComment;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use sync_support::{assert_mirror_equals_hub, local_comments, TestHub};
use tokio::process::{Child, Command};

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        Site {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }
    fn mirror(&self) -> PathBuf {
        self.dir.path().join("mirror.db")
    }
    fn spawn(&self, hub: &TestHub, protocol: &str, extra: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_fastcomments"))
            .arg("sync")
            .args(["--hub", &hub.base, "--protocol", protocol])
            .arg("--state")
            .arg(self.state())
            .arg("--mirror")
            .arg(self.mirror())
            .args(["--exit-when-synced", "--poll-interval-ms", "20"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }
}

fn read_state(path: &Path) -> Option<IntegrationState> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn wait_token(site: &Site) -> String {
    let mut token = None;
    wait_for("the token", Duration::from_secs(30), || {
        token = read_state(&site.state()).and_then(|s| s.token);
        token.is_some()
    })
    .await;
    token.unwrap()
}

async fn finish(mut child: Child) {
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .expect("sync did not finish")
        .unwrap();
    assert!(status.success(), "sync failed: {status}");
}

async fn killed_mid_upload(protocol: &str) {
    let hub = TestHub::start(HubConfig {
        initial_batch_size: 5,
        ..HubConfig::default()
    })
    .await;
    let site = Site::new();
    let local = local_comments(1500);
    let import = site.dir.path().join("comments.jsonl");
    let lines: Vec<String> = local
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
    std::fs::write(&import, lines.join("\n")).unwrap();
    let import = import.to_str().unwrap().to_owned();
    let args = [
        "--import",
        import.as_str(),
        "--max-batch",
        "5",
        "--upload-concurrency",
        "2",
    ];

    let mut child = site.spawn(&hub, protocol, &args);
    let token = wait_token(&site).await;
    hub.acknowledge_when_registered(&token, false).await;
    let mut at_kill = None;
    wait_for(
        "the upload to be under way",
        Duration::from_secs(60),
        || {
            at_kill = read_state(&site.state()).filter(|s| s.upload.sent >= 200);
            at_kill.is_some()
        },
    )
    .await;
    child.kill().await.unwrap(); // SIGKILL
    let at_kill = at_kill.unwrap();
    assert!(
        !at_kill.upload.finished && at_kill.upload.sent < local.len() as u64,
        "killed mid-upload: {:?}",
        at_kill.upload
    );

    finish(site.spawn(&hub, protocol, &args)).await;

    let state = read_state(&site.state()).unwrap();
    assert!(state.upload.finished && state.setup_completed);
    assert_eq!(state.upload.sent, local.len() as u64);
    let on_hub = hub.comments().await;
    let exts: HashSet<&str> = on_hub
        .iter()
        .map(|c| c.external_id.as_deref().unwrap())
        .collect();
    assert_eq!(on_hub.len(), local.len(), "no comment twice, none missing");
    assert_eq!(exts.len(), local.len());
    for l in &local {
        assert!(exts.contains(l.external_id.as_deref().unwrap()));
    }
    let me = hub.integrations().await;
    let me = me.iter().find(|i| i["token"] == token.as_str()).unwrap();
    assert_eq!(me["commentsReceived"], local.len());
    assert_eq!(me["uploadFinished"], true);
    let mirror = SqliteMirror::open(&site.mirror()).await.unwrap();
    assert_mirror_equals_hub(&mirror, &hub).await;
}

async fn killed_mid_catch_up(protocol: &str) {
    let (hub, clock) = TestHub::start_manual(
        HubConfig {
            page_size: 10,
            ..HubConfig::default()
        },
        1_763_880_000_000,
    )
    .await;
    // Another site uploads 3,000 comments, ten per second of hub time: 3,000 events for us.
    for batch in 0..300 {
        let comments: Vec<UploadComment> = (0..10)
            .map(|i| UploadComment {
                external_id: Some(format!("other-{batch}-{i}")),
                url_id: Some(format!("thread-{}", batch % 13)),
                commenter_name: Some("Ольга".into()),
                comment: format!("comment {batch}/{i} — ✓"),
                ..Default::default()
            })
            .collect();
        hub.upload_as_other_site("other-site-token", &comments)
            .await;
        clock.advance(1000);
    }
    let on_hub = hub.comments().await;
    hub.vote(&on_hub[0].id, 1, "a").await;
    hub.edit_comment(&on_hub[1].id, "edited before the catch-up")
        .await;

    let site = Site::new();
    let mut child = site.spawn(&hub, protocol, &[]);
    let token = wait_token(&site).await;
    hub.acknowledge_when_registered(&token, true).await;
    wait_for(
        "the catch-up to be under way",
        Duration::from_secs(60),
        || read_state(&site.state()).is_some_and(|s| s.cursor > 0),
    )
    .await;
    child.kill().await.unwrap(); // SIGKILL
    {
        let mirror = SqliteMirror::open(&site.mirror()).await.unwrap();
        let held = mirror.len().await.unwrap();
        assert!(
            held < on_hub.len() as u64,
            "killed mid catch-up ({held} applied)"
        );
    }

    // The hub moves on while the site is down.
    clock.advance(1000);
    hub.edit_comment(&on_hub[2].id, "edited while the site was down — ü")
        .await;
    hub.delete_comment(&on_hub[3].id).await;
    let v = hub.vote(&on_hub[4].id, -1, "b").await;
    hub.vote(&on_hub[4].id, 1, "c").await;
    hub.delete_vote(&v).await;
    hub.create_comment("thread-1", "new while down", Some(&on_hub[5].id))
        .await;

    finish(site.spawn(&hub, protocol, &[])).await;
    let mirror = SqliteMirror::open(&site.mirror()).await.unwrap();
    assert_mirror_equals_hub(&mirror, &hub).await;
    let state = read_state(&site.state()).unwrap();
    assert!(state.setup_completed);
    assert_eq!(
        state.upload.sent, 0,
        "nothing uploaded after a skipped initial sync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_mid_upload_stream() {
    killed_mid_upload("stream").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_mid_upload_commands() {
    killed_mid_upload("commands").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_mid_catch_up_stream() {
    killed_mid_catch_up("stream").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_mid_catch_up_commands() {
    killed_mid_catch_up("commands").await;
}
