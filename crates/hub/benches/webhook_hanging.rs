//! One hanging receiver among ten (issue 14 §2): latency of the nine live receivers' deliveries
//! with one receiver that accepts and never answers, against an all-healthy run in the same
//! process, and what became of every delivery to the hanging one.
//!
//! `cargo bench -p fastcomments-hub --bench webhook_hanging [-- --rate 200 --seconds 30
//! --receivers 10 --retry-base-ms 1000 --unlimited]`
//!
//! Latency is reported for receivers 1..10 (the nine that are live in every run). Each run
//! starts a fresh hub (SQLite in a temp dir, default `HubConfig` apart from the retry
//! base and private targets) and ten tenants, tenant *i* owning `t<i>.example` with its create
//! webhook pointing at receiver *i* on loopback. Comments are written at `--rate` per second,
//! round robin over the tenants, each write its own task (open loop), for `--seconds`. Latency
//! is a receiver's arrival minus the moment the write's answer was read (0 when it came first).
//! `--unlimited` adds a run with the per-host and per-tenant limits lifted to the global pool,
//! which is how the dispatcher behaved before them.

use axum::body::Bytes;
use axum::Router;
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::store::DeliveryStatus;
use fastcomments_hub::{HubConfig, RunningHub};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// A receiver recording each comment id's first arrival; `hang`: never answers.
async fn receiver(hang: bool) -> (String, Arrivals, Arc<AtomicUsize>) {
    let arrivals: Arrivals = Arc::default();
    let requests = Arc::new(AtomicUsize::new(0));
    let (a, r) = (arrivals.clone(), requests.clone());
    let app = Router::new().fallback(move |body: Bytes| {
        let (a, r) = (a.clone(), r.clone());
        async move {
            r.fetch_add(1, Ordering::Relaxed);
            if hang {
                std::future::pending::<()>().await;
            }
            let now = Instant::now();
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
                    a.lock().entry(id.to_owned()).or_insert(now);
                }
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, arrivals, requests)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Outcome {
    name: &'static str,
    live_written: usize,
    live_arrived: usize,
    p50: f64,
    p99: f64,
    max: f64,
    /// Deliveries to the hanging receiver by status, attempts made, requests it saw.
    hanging: Option<(usize, HashMap<&'static str, usize>, i64, usize)>,
}

async fn run(name: &'static str, hanging: bool, unlimited: bool) -> Outcome {
    let rate = arg("--rate", 200);
    let seconds = arg("--seconds", 30);
    let n = arg("--receivers", 10) as usize;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("hub.db"))
        .await
        .expect("store");
    let mut config = HubConfig {
        admin_token: Some("bench".into()),
        webhook_allow_private_targets: true,
        webhook_retry_base: Duration::from_millis(arg("--retry-base-ms", 1000)),
        ..HubConfig::default()
    };
    if unlimited {
        config.webhook_per_host_concurrency = config.webhook_concurrency;
        config.webhook_per_tenant_concurrency = config.webhook_concurrency;
    }
    let hub = RunningHub::bind(
        "127.0.0.1:0",
        Arc::new(store),
        config,
        std::future::pending(),
    )
    .await
    .expect("hub");
    let base = hub.url();
    let client = reqwest::Client::new();
    let mut keys = Vec::new();
    let mut tenants = Vec::new();
    let mut arrivals = Vec::new();
    let mut hang_requests = None;
    for i in 0..n {
        let hang = hanging && i == 0;
        let (url, a, requests) = receiver(hang).await;
        if hang {
            hang_requests = Some(requests);
        }
        arrivals.push(a);
        let (tenant, secret) = hub
            .hub
            .create_tenant(&format!("T{i}"), vec![format!("t{i}.example")])
            .await
            .expect("tenant");
        let res = client
            .put(format!("{base}/api/v1/webhook-config"))
            .header("x-api-key", &secret.secret)
            .json(&json!({"domain": format!("t{i}.example"), "create": {"url": url}}))
            .send()
            .await
            .expect("config");
        assert!(res.status().is_success());
        keys.push(secret.secret);
        tenants.push(tenant.id);
    }

    // Open-loop writes: one task per write, every 1/rate s.
    let answered: Arc<Mutex<Vec<(usize, String, Instant)>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut writers = Vec::new();
    for w in 0..(rate * seconds) as usize {
        tick.tick().await;
        let (client, base, key, answered) = (
            client.clone(),
            base.clone(),
            keys[w % n].clone(),
            answered.clone(),
        );
        let domain = format!("t{}.example", w % n);
        writers.push(tokio::spawn(async move {
            let v: Value = client
                .post(format!("{base}/api/v1/comments"))
                .header("x-api-key", &key)
                .json(&json!({"urlId": format!("p{}", w % 50), "commenterName": "Ана", "comment": format!("comment {w} — ✓"), "domain": domain}))
                .send()
                .await
                .expect("write")
                .json()
                .await
                .expect("write answer");
            let at = Instant::now();
            let id = v["comment"]["_id"].as_str().unwrap_or_default().to_owned();
            answered.lock().push((w % n, id, at));
        }));
    }
    for w in writers {
        let _ = w.await;
    }
    let answered = answered.lock().clone();
    // Receivers 1.. in every run, so the healthy run is measured over the same nine.
    let live: Vec<&(usize, String, Instant)> =
        answered.iter().filter(|(i, _, _)| *i != 0).collect();
    // Give the live deliveries up to 30 s after the last write to arrive.
    let deadline = Instant::now() + Duration::from_secs(30);
    let arrived = |arrivals: &[Arrivals]| {
        live.iter()
            .filter(|(i, id, _)| arrivals[*i].lock().contains_key(id))
            .count()
    };
    while arrived(&arrivals) < live.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lat: Vec<f64> = live
        .iter()
        .filter_map(|(i, id, at)| {
            arrivals[*i]
                .lock()
                .get(id)
                .map(|arr| arr.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));

    let hanging_report = if hanging {
        let list = hub
            .hub
            .store
            .deliveries(&tenants[0], None, None, 1_000_000)
            .await
            .expect("deliveries");
        let mut by_status: HashMap<&'static str, usize> = HashMap::new();
        let mut attempts = 0;
        for d in &list {
            *by_status.entry(d.status.as_str()).or_default() += 1;
            attempts += d.attempts;
            debug_assert!(d.status != DeliveryStatus::Succeeded);
        }
        let written = answered.iter().filter(|(i, _, _)| *i == 0).count();
        assert_eq!(
            list.len(),
            written,
            "a delivery to the hanging receiver is missing"
        );
        Some((
            written,
            by_status,
            attempts,
            hang_requests.map_or(0, |r| r.load(Ordering::Relaxed)),
        ))
    } else {
        None
    };
    let _ = hub.shutdown().await;
    Outcome {
        name,
        live_written: live.len(),
        live_arrived: lat.len(),
        p50: percentile(&lat, 0.50),
        p99: percentile(&lat, 0.99),
        max: lat.last().copied().unwrap_or(f64::NAN),
        hanging: hanging_report,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let defaults = HubConfig::default();
    println!(
        "webhook hanging-receiver benchmark: {} writes/s for {} s over {} receivers; \
         defaults: pool {}, per host {}, per tenant {}, timeout {} ms; retry base {} ms",
        arg("--rate", 200),
        arg("--seconds", 30),
        arg("--receivers", 10),
        defaults.webhook_concurrency,
        defaults.webhook_per_host_concurrency,
        defaults.webhook_per_tenant_concurrency,
        defaults.webhook_timeout.as_millis(),
        arg("--retry-base-ms", 1000),
    );
    let mut outcomes = vec![
        run("all healthy", false, false).await,
        run("1 hanging", true, false).await,
    ];
    if flag("--unlimited") {
        outcomes.push(run("1 hanging, no per-host/tenant limit", true, true).await);
    }
    println!("| run | live deliveries arrived | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    for o in &outcomes {
        println!(
            "| {} | {} of {} | {:.2} ms | {:.2} ms | {:.1} ms |",
            o.name, o.live_arrived, o.live_written, o.p50, o.p99, o.max
        );
    }
    for o in &outcomes {
        if let Some((written, by_status, attempts, requests)) = &o.hanging {
            let mut states: Vec<String> =
                by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
            states.sort();
            println!(
                "{}: {written} deliveries to the hanging receiver, all in the store ({}), \
                 {attempts} attempts recorded, {requests} requests reached it",
                o.name,
                states.join(", ")
            );
        }
    }
    if let [healthy, hanging, ..] = &outcomes[..] {
        println!(
            "live p99 with one hanging / all healthy: {:.2}x (goal ≤ 2x)",
            hanging.p99 / healthy.p99
        );
    }
}
