//! Write throughput of two hub binaries, side by side in one run (issue 19's "the stricter
//! writer costs ≤ 5 %"): rounds alternate between the binary under test and a baseline, each
//! round a fresh SQLite hub that takes
//!
//! - **upload**: N comments in batches of 500, 4 batches in flight (what the integration core
//!   does), comments/s;
//! - **API**: `POST /api/v1/comments` from 16 clients for S seconds, writes/s;
//! - **idle polls**: `GET /integrations/v1/stream` at the newest cursor from 32 keep-alive
//!   clients for S seconds, polls/s (what most of a hub's traffic is).
//!
//! It prints each round and the ratio of the medians (test / baseline). Machines here are
//! noisy; the ratio of alternated rounds is what to read, not the absolute rates.
//!
//! ```text
//! git worktree add /tmp/base <commit> && cargo build --release -p fastcomments --manifest-path /tmp/base/Cargo.toml
//! cargo build --release -p fastcomments
//! cargo bench -p fastcomments --bench write_ab -- --baseline /tmp/base/target/release/fastcomments
//! ```
//! Options: `--test BIN` (default `target/release/fastcomments`), `--rounds N` (5),
//! `--comments N` (100000), `--seconds S` (10). Run without `--bench` (as `cargo test --benches`
//! does) it makes one tiny round of the debug binary against itself, so it keeps working.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ADMIN: &str = "write-ab-admin";
const TOKEN: &str = "write-ab-plugin-token-0001";

struct Options {
    test: PathBuf,
    baseline: PathBuf,
    rounds: usize,
    comments: usize,
    seconds: f64,
}

fn parse() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let release =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/fastcomments");
    let debug = PathBuf::from(env!("CARGO_BIN_EXE_fastcomments"));
    let mut o = if bench {
        Options {
            test: release,
            baseline: PathBuf::new(),
            rounds: 5,
            comments: 100_000,
            seconds: 10.0,
        }
    } else {
        Options {
            test: debug.clone(),
            baseline: debug,
            rounds: 1,
            comments: 1_000,
            seconds: 0.5,
        }
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--bench" => {}
            "--test" => o.test = PathBuf::from(value()?),
            "--baseline" => o.baseline = PathBuf::from(value()?),
            "--rounds" => o.rounds = value()?.parse().map_err(|_| "--rounds: a number")?,
            "--comments" => o.comments = value()?.parse().map_err(|_| "--comments: a number")?,
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "--seconds: a number")?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.baseline.as_os_str().is_empty() {
        return Err("--baseline BIN is required (the binary to compare with)".into());
    }
    Ok(o)
}

async fn start(bin: &Path, dir: &Path) -> Result<(Child, String), String> {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("FASTCOMMENTS_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(at) = line.find("http://") {
            let url = line[at..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((child, url));
        }
    }
    Err("the hub printed no address".into())
}

async fn call(r: reqwest::RequestBuilder) -> Result<Value, String> {
    let r = r.send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    Ok(body)
}

fn text(i: usize) -> String {
    format!(
        "<p>Comment number {i}: a paragraph of ordinary length, with some words, a link-free \
         sentence, non-ASCII — ü, ñ, 日本語 — and a closing remark.</p>"
    )
}

/// What one round measured.
#[derive(Debug, Clone, Copy)]
struct Rates {
    upload: f64,
    api: f64,
    polls: f64,
}

/// One round on a fresh hub.
async fn round(bin: &Path, o: &Options) -> Result<Rates, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_child, url) = start(bin, dir.path()).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let t = call(
        http.post(format!("{url}/admin/v1/tenants"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": "bench", "domains": ["example.com"]})),
    )
    .await?;
    let key = t["apiSecret"].as_str().ok_or("no apiSecret")?.to_owned();
    call(
        http.post(format!("{url}/api/v1/integrations/{TOKEN}/acknowledge"))
            .header("x-api-key", &key)
            .json(&json!({"skipInitialSync": true})),
    )
    .await?;

    // Upload: batches of 500, 4 in flight.
    let batches: Vec<Vec<Value>> = (0..o.comments)
        .map(|i| {
            json!({"externalId": format!("wp-{i}"), "urlId": format!("/post-{}", i % 997),
                   "commenterName": "Reader", "comment": text(i)})
        })
        .collect::<Vec<_>>()
        .chunks(500)
        .map(<[Value]>::to_vec)
        .collect();
    let next = Arc::new(AtomicU64::new(0));
    let batches = Arc::new(batches);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (http, url, next, batches) = (http.clone(), url.clone(), next.clone(), batches.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                let Some(batch) = batches.get(i) else {
                    return Ok::<(), String>(());
                };
                call(
                    http.post(format!("{url}/integrations/v1/comments?token={TOKEN}"))
                        .json(&json!({"countRemaining": 1, "comments": batch})),
                )
                .await?;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    let upload_rate = o.comments as f64 / started.elapsed().as_secs_f64();

    // API writes: 16 clients for the given seconds.
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..16 {
        let (http, url, key, done) = (http.clone(), url.clone(), key.clone(), done.clone());
        tasks.spawn(async move {
            let mut i = 0;
            while Instant::now() < until {
                call(
                    http.post(format!("{url}/api/v1/comments"))
                        .header("x-api-key", &key)
                        .json(
                            &json!({"urlId": format!("/api-{}", c), "commenterName": "Ann",
                                      "comment": text(i), "domain": "example.com"}),
                        ),
                )
                .await?;
                i += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    let api_rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();

    // Idle polls: everything is applied, the cursor is the newest event's.
    let first = call(http.get(format!(
        "{url}/integrations/v1/stream?token={TOKEN}&lastFetchDate=0"
    )))
    .await?;
    let mut cursor = first["nextFetchDate"].as_i64().unwrap_or(0);
    loop {
        let page = call(http.get(format!(
            "{url}/integrations/v1/stream?token={TOKEN}&lastFetchDate={cursor}"
        )))
        .await?;
        cursor = page["nextFetchDate"].as_i64().unwrap_or(cursor);
        if page["hasMore"] != true {
            break;
        }
    }
    let polled = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (http, url, polled) = (http.clone(), url.clone(), polled.clone());
        tasks.spawn(async move {
            let poll = format!("{url}/integrations/v1/stream?token={TOKEN}&lastFetchDate={cursor}");
            while Instant::now() < until {
                call(http.get(&poll)).await?;
                polled.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    let poll_rate = polled.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    Ok(Rates {
        upload: upload_rate,
        api: api_rate,
        polls: poll_rate,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("write_ab: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    println!(
        "write_ab: test {} vs baseline {}; {} rounds, {} comments uploaded, {:.1} s of API writes per round",
        o.test.display(),
        o.baseline.display(),
        o.rounds,
        o.comments,
        o.seconds
    );
    let (mut test, mut base) = (Vec::new(), Vec::new());
    for r_no in 0..o.rounds {
        // Alternate which goes first, so neither always meets a warmer machine.
        let order = if r_no % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_test in order {
            let bin = if is_test { &o.test } else { &o.baseline };
            match round(bin, &o).await {
                Ok(r) => {
                    println!(
                        "round {r_no} {:>8}: upload {:>9.0} comments/s   API {:>7.0} writes/s   idle polls {:>8.0}/s",
                        if is_test { "test" } else { "baseline" },
                        r.upload,
                        r.api,
                        r.polls,
                    );
                    if is_test { &mut test } else { &mut base }.push(r);
                }
                Err(e) => {
                    eprintln!("write_ab: round {r_no} failed: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
    }
    let med = |v: &[Rates], pick: fn(&Rates) -> f64| median(v.iter().map(pick).collect());
    for (name, pick) in [
        ("upload", (|r: &Rates| r.upload) as fn(&Rates) -> f64),
        ("API", |r: &Rates| r.api),
        ("idle polls", |r: &Rates| r.polls),
    ] {
        let (t, b) = (med(&test, pick), med(&base, pick));
        println!(
            "median {name:<10}: test {t:.0}/s, baseline {b:.0}/s, ratio {:.3}",
            t / b
        );
    }
    std::process::ExitCode::SUCCESS
}
