//! Webhook delivery benchmark (issue 5): end-to-end latency at 100 writes/s and sustained
//! throughput to a fast local receiver, hub (SQLite) and receiver in one process on loopback.
//!
//! `cargo bench -p fastcomments --bench webhook_delivery [-- --writes 1000 --burst 30000
//! --per-host N --per-tenant N]` (the in-flight limits default to the hub's)

use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::{HubConfig, RunningHub};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::bench::{arg, percentile, Arrivals, Receiver};

async fn wait_for(arrivals: &Arrivals, n: usize, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while arrivals.lock().len() < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let writes = arg::<usize>("--writes", 1000);
    let burst = arg::<usize>("--burst", 30_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("hub.db"))
        .await
        .expect("store");
    let defaults = HubConfig::default();
    let config = HubConfig {
        admin_token: Some("bench".into()),
        // The receiver is on loopback.
        webhook_allow_private_targets: true,
        webhook_per_host_concurrency: arg("--per-host", defaults.webhook_per_host_concurrency),
        webhook_per_tenant_concurrency: arg(
            "--per-tenant",
            defaults.webhook_per_tenant_concurrency,
        ),
        ..defaults
    };
    println!(
        "in flight: {} in all, {} per host, {} per tenant",
        config.webhook_concurrency,
        config.webhook_per_host_concurrency,
        config.webhook_per_tenant_concurrency
    );
    let hub = RunningHub::bind(
        "127.0.0.1:0",
        Arc::new(store),
        config,
        std::future::pending(),
    )
    .await
    .expect("hub");
    let base = hub.url();
    let Receiver { url, arrivals, .. } = Receiver::start(false).await;
    let client = reqwest::Client::new();
    let (_, secret) = hub
        .hub
        .create_tenant("Bench", vec!["localhost".into()])
        .await
        .expect("tenant");
    let key = secret.secret;
    let res = client
        .put(format!("{base}/api/v1/webhook-config"))
        .header("x-api-key", &key)
        .json(&json!({"domain": "localhost", "create": {"url": url}, "update": {"url": url}, "fireOnImport": true}))
        .send()
        .await
        .expect("config");
    assert!(res.status().is_success());

    // 1. Latency at 100 writes/s: from the write's response to the receiver's arrival.
    let mut answered: Vec<(String, Instant)> = Vec::with_capacity(writes);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..writes {
        tick.tick().await;
        let v: Value = client
            .post(format!("{base}/api/v1/comments"))
            .header("x-api-key", &key)
            .json(&json!({"urlId": format!("t{}", i % 50), "commenterName": "Ана", "comment": format!("comment {i} — ✓"), "domain": "localhost"}))
            .send()
            .await
            .expect("write")
            .json()
            .await
            .expect("write answer");
        let at = Instant::now();
        answered.push((
            v["comment"]["_id"].as_str().unwrap_or_default().to_owned(),
            at,
        ));
    }
    assert!(
        wait_for(&arrivals, writes, 30).await,
        "latency phase: deliveries missing"
    );
    let mut early = 0;
    let mut lat: Vec<f64> = {
        let got = arrivals.lock();
        answered
            .iter()
            .filter_map(|(id, at)| got.get(id).map(|arr| (*arr, *at)))
            .map(|(arr, at)| match arr.checked_duration_since(at) {
                Some(d) => d.as_secs_f64() * 1000.0,
                None => {
                    early += 1;
                    0.0
                }
            })
            .collect()
    };
    lat.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99, max) = (
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
    );

    // 2. Throughput: a burst of imported comments (batches of 500), each firing one webhook.
    arrivals.lock().clear();
    let token = "bench-webhook-token";
    client
        .put(format!("{base}/integrations/v1/token/{token}"))
        .send()
        .await
        .expect("token");
    client
        .post(format!("{base}/api/v1/integrations/{token}/acknowledge"))
        .header("x-api-key", &key)
        .json(&json!({"skipInitialSync": true}))
        .send()
        .await
        .expect("ack");
    let started = Instant::now();
    let mut sent = 0;
    while sent < burst {
        let n = (burst - sent).min(500);
        let comments: Vec<Value> = (sent..sent + n)
            .map(|i| json!({"externalId": format!("e{i}"), "urlId": format!("t{}", i % 100), "comment": format!("<p>imported {i}</p>"), "commenterName": "W", "domain": "localhost"}))
            .collect();
        let res = client
            .post(format!("{base}/integrations/v1/comments?token={token}"))
            .json(&json!({"comments": comments}))
            .send()
            .await
            .expect("upload");
        assert!(res.status().is_success(), "upload failed: {}", res.status());
        sent += n;
    }
    let enqueued = started.elapsed();
    let at_enqueue_end = (Instant::now(), arrivals.lock().len());
    assert!(
        wait_for(&arrivals, burst, 120).await,
        "throughput phase: deliveries missing"
    );
    let last = arrivals.lock().values().max().copied().unwrap_or(started);
    let drained = last.duration_since(started);
    let rate = burst as f64 / drained.as_secs_f64();
    let drain_rate = (burst - at_enqueue_end.1) as f64
        / last
            .saturating_duration_since(at_enqueue_end.0)
            .as_secs_f64();

    println!("webhook delivery benchmark (hub + receiver in one process, SQLite, loopback, 2 worker threads)");
    println!("| measure | value | bar |");
    println!("|---|---|---|");
    println!("| latency p50 at 100 writes/s ({writes} writes) | {p50:.2} ms | ≤ 5 ms |");
    println!("| latency p99 at 100 writes/s | {p99:.2} ms | ≤ 50 ms |");
    println!("| latency max | {max:.2} ms | |");
    println!("| deliveries that arrived before the write's response | {early} | |");
    println!(
        "| burst: {burst} deliveries enqueued in | {:.2} s | |",
        enqueued.as_secs_f64()
    );
    println!("| sustained throughput (first enqueue → last arrival) | {rate:.0} deliveries/s | ≥ 3,000/s |");
    println!(
        "| drain rate after the last enqueue ({} left then) | {drain_rate:.0} deliveries/s | |",
        burst - at_enqueue_end.1
    );
    let _ = hub.shutdown().await;
}
