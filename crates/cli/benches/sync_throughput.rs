//! Benchmark of the integration client (issue 4), end to end over loopback:
//!
//! 1. initial upload of N comments (default 100,000) from a `SqliteMirror` to the hub by the
//!    release `fastcomments sync` binary (comments/s, the client's peak RSS);
//! 2. catch-up of N events into an empty mirror by a second site (events/s, peak RSS).
//!
//! The hub runs in this process (default `HubConfig`, SQLite in a temp dir); the client is a
//! child process, so its RSS (`VmHWM`, reported by the child itself) is the client's alone.
//!
//! `cargo bench -p fastcomments --bench sync_throughput` (env `SYNC_BENCH_N` to change N).

use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::{HubConfig, RunningHub, SystemClock};
use fastcomments_integration::{IntegrationState, SqliteMirror};
use fastcomments_protocol::{Millis, UploadComment};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

fn comment(i: usize) -> UploadComment {
    UploadComment {
        external_id: Some(format!("wp-{i}")),
        external_parent_id: (i % 5 == 4).then(|| format!("wp-{}", i - 1)),
        url_id: Some(format!("https://blog.example/post-{}", i % 997)),
        commenter_name: Some(format!("Reader {} Ünal", i % 313)),
        commenter_email: Some(format!("reader{}@example.com", i % 313)),
        comment: format!(
            "<p>Comment number {i}: a paragraph of ordinary length, with some words, a \
             link-free sentence, non-ASCII — ü, ñ, 日本語 — and a closing remark.</p>"
        ),
        date: Some(Millis(1_700_000_000_000 + (i as i64) * 1000)),
        ..Default::default()
    }
}

/// CPU seconds (user + system) of this process (the hub), from `/proc/self/stat`.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

struct Run {
    stats: Value,
    wall: Duration,
    hub_cpu: f64,
}

async fn run_sync(hub: &RunningHub, key: &str, dir: &Path, protocol: &str, skip: bool) -> Run {
    let state = dir.join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .arg("sync")
        .args(["--hub", &hub.url(), "--protocol", protocol])
        .arg("--state")
        .arg(&state)
        .arg("--mirror")
        .arg(dir.join("mirror.db"))
        .args(["--exit-when-synced", "--poll-interval-ms", "10", "--stats"])
        .args(
            std::env::var("SYNC_BENCH_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fastcomments sync");
    let token = loop {
        if let Some(t) = std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<IntegrationState>(&b).ok())
            .and_then(|s| s.token)
        {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let http = reqwest::Client::new();
    let cpu_before = cpu_secs();
    let started = loop {
        let res = http
            .post(format!(
                "{}/api/v1/integrations/{token}/acknowledge",
                hub.url()
            ))
            .header("x-api-key", key)
            .json(&serde_json::json!({ "skipInitialSync": skip }))
            .send()
            .await
            .expect("acknowledge");
        if res.status().is_success() {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut out = String::new();
    let mut stdout = child.stdout.take().expect("stdout");
    stdout.read_to_string(&mut out).await.expect("read stdout");
    let status = child.wait().await.expect("wait");
    let wall = started.elapsed();
    assert!(status.success(), "sync failed: {status}");
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("stats line");
    Run {
        stats: serde_json::from_str(line).expect("stats JSON"),
        wall,
        hub_cpu: cpu_secs() - cpu_before,
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("SYNC_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let protocol = std::env::var("SYNC_BENCH_PROTOCOL").unwrap_or_else(|_| "stream".into());
    let hub_dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&hub_dir.path().join("hub.db"))
        .await
        .expect("hub store");
    let hub = RunningHub::bind_with_clock(
        "127.0.0.1:0",
        Arc::new(store),
        Arc::new(SystemClock),
        HubConfig::default(),
        std::future::pending(),
    )
    .await
    .expect("bind hub");
    let (tenant, secret) = hub
        .hub
        .create_tenant("Bench", vec!["blog.example".into()])
        .await
        .expect("tenant");

    // 1. Upload.
    let site_a = tempfile::tempdir().expect("tempdir");
    {
        let mirror = SqliteMirror::open(&PathBuf::from(site_a.path()).join("mirror.db"))
            .await
            .expect("mirror");
        let t = Instant::now();
        mirror.import((0..n).map(comment)).await.expect("import");
        eprintln!("seeded {n} local comments in {:?}", t.elapsed());
    }
    let up = run_sync(&hub, &secret.secret, site_a.path(), &protocol, false).await;
    let on_hub = hub
        .hub
        .reads()
        .count_comments(&tenant.id)
        .await
        .expect("count");
    assert_eq!(on_hub, n as u64, "every comment reached the hub");
    let up_secs = up.stats["upload_secs"].as_f64().unwrap_or(0.0);

    // 2. Catch-up: a second site, initial sync skipped, applies the N new-comment events.
    let site_b = tempfile::tempdir().expect("tempdir");
    let down = run_sync(&hub, &secret.secret, site_b.path(), &protocol, true).await;
    let mirror = SqliteMirror::open(&site_b.path().join("mirror.db"))
        .await
        .expect("mirror");
    assert_eq!(
        mirror.len().await.expect("len"),
        n as u64,
        "every event applied"
    );
    let ev = down.stats["events"].as_u64().unwrap_or(0);
    let ev_secs = down.stats["events_secs"].as_f64().unwrap_or(0.0);

    for (what, r) in [("upload", &up), ("catch-up", &down)] {
        eprintln!(
            "{what}: wall {:.2} s, client CPU {:.2} s, hub CPU {:.2} s",
            r.wall.as_secs_f64(),
            r.stats["cpu_secs"].as_f64().unwrap_or(0.0),
            r.hub_cpu
        );
    }
    let rss = |r: &Run| r.stats["peak_rss_kib"].as_u64().unwrap_or(0) as f64 / 1024.0;
    println!("| measure ({protocol} protocol, N = {n}) | time | rate | client peak RSS |");
    println!("|---|---|---|---|");
    // Each phase: what its client-timed span runs between, what it counts, the client's
    // timing and count, and the run; its second row times the run from acknowledge to exit.
    let phases = [
        (
            "initial upload",
            "UploadStarted→UploadFinished",
            "comments",
            up_secs,
            n as f64,
            &up,
        ),
        (
            "catch-up",
            "connected→last page applied",
            "events",
            ev_secs,
            ev as f64,
            &down,
        ),
    ];
    for (phase, span, unit, secs, count, run) in phases {
        println!(
            "| {phase} (client-timed, {span}) | {secs:.2} s | {:.0} {unit}/s | {:.1} MiB |",
            count / secs,
            rss(run)
        );
        let wall = run.wall.as_secs_f64();
        println!(
            "| {phase} (acknowledge → process exit) | {wall:.2} s | {:.0} {unit}/s | |",
            n as f64 / wall
        );
    }
}
