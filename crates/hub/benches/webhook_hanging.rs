//! One hanging receiver among ten (issue 14 §2): latency of the nine live receivers' deliveries
//! with one receiver that accepts and never answers, against an all-healthy run in the same
//! process, and what became of every delivery to the hanging one.
//!
//! `cargo bench -p fastcomments-hub --bench webhook_hanging [-- --rate 200 --seconds 30 --rounds 3
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
//!
//! `--mode config` (default) points each tenant's per-domain configuration at its receiver;
//! `--mode subscriptions` subscribes each tenant's receiver through `POST /api/v1/webhooks`
//! instead (issue 13 §1); `--mode fanout` has one tenant with `--receivers` subscriptions, so
//! every comment fans out to all of them and the hanging one holds deliveries of the very
//! comments the others get.
//!
//! `--throughput [--comments 2000 | --deliveries 20000] [--rounds 3]` measures fan-out instead:
//! for 1 and for 10 subscriptions of one tenant (all healthy), the comments are written while
//! the subscriptions are disabled, then all are enabled at once, and deliveries per second are
//! counted from there to the last arrival. `--comments` writes that many comments in both runs
//! (ten subscriptions then drain ten times the backlog); `--deliveries` writes that many
//! deliveries' worth in each (a tenth of the comments for ten), so both drain one backlog size.
//! Rounds alternate the two; each prints ten's rate over one's. `--per-tenant N` sets the
//! tenant's in-flight limit (32 by default; one subscription is held to its own 8).
//!
//! Every run also reports the seconds the machine's host took from it (stolen time, on a
//! virtual machine): the rounds that miss are read beside it.

use fastcomments_hub::records::DeliveryStatus;
use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::{HubConfig, RunningHub};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::bench::{arg, percentile, Arrivals, Receiver};

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn text_arg(name: &str, default: &'static str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// Subscribes `url` to the tenant's comments of `domain`; returns the subscription id.
async fn subscribe(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    url: &str,
    domain: &str,
) -> String {
    let res = client
        .post(format!("{base}/api/v1/webhooks"))
        .header("x-api-key", key)
        .json(&json!({"url": url, "events": ["create"], "domains": [domain]}))
        .send()
        .await
        .expect("subscribe");
    assert!(res.status().is_success(), "subscribe: {}", res.status());
    let v: Value = res.json().await.expect("subscription");
    v["webhook"]["id"].as_str().unwrap_or_default().to_owned()
}

/// Turns the subscription `id` on or off (`action`: `enable` or `disable`).
async fn switch_subscription(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    action: &str,
) {
    let res = client
        .post(format!("{base}/api/v1/webhooks/{id}/{action}"))
        .header("x-api-key", key)
        .send()
        .await
        .expect(action);
    assert!(res.status().is_success());
}

struct Outcome {
    name: &'static str,
    live_written: usize,
    live_arrived: usize,
    p50: f64,
    p99: f64,
    max: f64,
    /// The hub's claims and the deliveries they handed out.
    claims: (u64, u64),
    /// Seconds the machine's host took from it while the writes ran (a slow round's cause).
    stolen: f64,
    /// Deliveries to the hanging receiver by status, attempts made, requests it saw.
    hanging: Option<(usize, HashMap<&'static str, usize>, i64, usize)>,
}

/// A hub with `config` on a free loopback port, over a new SQLite file in `dir`.
async fn hub_in(dir: &std::path::Path, config: HubConfig) -> RunningHub {
    let store = SqliteStore::open(&dir.join("hub.db")).await.expect("store");
    RunningHub::bind(
        "127.0.0.1:0",
        Arc::new(store),
        config,
        std::future::pending(),
    )
    .await
    .expect("hub")
}

async fn run(name: &'static str, hanging: bool, unlimited: bool) -> Outcome {
    let rate = arg::<u64>("--rate", 200);
    let seconds = arg::<u64>("--seconds", 30);
    let n = arg::<u64>("--receivers", 10) as usize;
    let dir = tempfile::tempdir().expect("temp dir");
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
    let hub = hub_in(dir.path(), config).await;
    let base = hub.url();
    let client = reqwest::Client::new();
    let mode = text_arg("--mode", "config");
    let fanout = mode == "fanout";
    let mut keys = Vec::new();
    let mut tenants = Vec::new();
    let mut arrivals = Vec::new();
    let mut hang_requests = None;
    let mut hang_url = String::new();
    for i in 0..n {
        let hang = hanging && i == 0;
        let Receiver {
            url,
            arrivals: a,
            requests,
        } = Receiver::start(hang).await;
        if hang {
            hang_requests = Some(requests);
            hang_url = url.clone();
        }
        arrivals.push(a);
        // Fan-out: one tenant (owning t0.example) subscribes every receiver.
        if !fanout || i == 0 {
            let (tenant, secret) = hub
                .hub
                .create_tenant(&format!("T{i}"), vec![format!("t{i}.example")])
                .await
                .expect("tenant");
            keys.push(secret.secret);
            tenants.push(tenant.id);
        }
        let key = keys.last().cloned().unwrap_or_default();
        let domain = if fanout {
            "t0.example".to_owned()
        } else {
            format!("t{i}.example")
        };
        if mode == "config" {
            let res = client
                .put(format!("{base}/api/v1/webhook-config"))
                .header("x-api-key", &key)
                .json(&json!({"domain": domain, "create": {"url": url}}))
                .send()
                .await
                .expect("config");
            assert!(res.status().is_success());
        } else {
            subscribe(&client, &base, &key, &url, &domain).await;
        }
    }
    let writers_of = if fanout { 1 } else { n };
    let stolen_before = testkit::bench::stolen_seconds();

    // Open-loop writes: one task per write, every 1/rate s.
    let answered: Arc<Mutex<Vec<(usize, String, Instant)>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut writers = Vec::new();
    for w in 0..(rate * seconds) as usize {
        tick.tick().await;
        let (client, base, key, answered) = (
            client.clone(),
            base.clone(),
            keys[w % writers_of].clone(),
            answered.clone(),
        );
        let domain = format!("t{}.example", w % writers_of);
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
    // Receivers 1.. in every run, so the healthy run is measured over the same nine. Fan-out:
    // every comment at each of them.
    let pairs: Vec<(usize, String, Instant)> = if fanout {
        answered
            .iter()
            .flat_map(|(_, id, at)| (1..n).map(move |i| (i, id.clone(), *at)))
            .collect()
    } else {
        answered
            .iter()
            .filter(|(i, _, _)| *i != 0)
            .cloned()
            .collect()
    };
    let live: Vec<&(usize, String, Instant)> = pairs.iter().collect();
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
    let stolen = testkit::bench::stolen_seconds() - stolen_before;

    let hanging_report = if hanging {
        let list = hub
            .hub
            .reads()
            .deliveries(&tenants[0], None, None, 1_000_000)
            .await
            .expect("deliveries");
        let list: Vec<_> = list.into_iter().filter(|d| d.url == hang_url).collect();
        let mut by_status: HashMap<&'static str, usize> = HashMap::new();
        let mut attempts = 0;
        for d in &list {
            *by_status.entry(d.status.as_str()).or_default() += 1;
            attempts += d.attempts;
            debug_assert!(d.status != DeliveryStatus::Succeeded);
        }
        let written = if fanout {
            answered.len()
        } else {
            answered.iter().filter(|(i, _, _)| *i == 0).count()
        };
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
    let claims = (
        hub.hub.metrics.webhook_claims.get(),
        hub.hub.metrics.webhook_claimed.get(),
    );
    let _ = hub.shutdown().await;
    Outcome {
        name,
        claims,
        stolen,
        live_written: live.len(),
        live_arrived: lat.len(),
        p50: percentile(&lat, 0.50),
        p99: percentile(&lat, 0.99),
        max: lat.last().copied().unwrap_or(f64::NAN),
        hanging: hanging_report,
    }
}

/// Fan-out throughput: `subs` healthy subscriptions of one tenant, `comments` comments
/// written while they are disabled, then all enabled at once; deliveries per second from the
/// enabling to the last arrival.
async fn throughput(subs: usize, comments: usize) -> (usize, f64, f64, (u64, u64)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let defaults = HubConfig::default();
    let config = HubConfig {
        admin_token: Some("bench".into()),
        webhook_allow_private_targets: true,
        webhook_per_tenant_concurrency: arg(
            "--per-tenant",
            defaults.webhook_per_tenant_concurrency,
        ),
        ..defaults
    };
    let hub = hub_in(dir.path(), config).await;
    let base = hub.url();
    let client = reqwest::Client::new();
    let (_, secret) = hub
        .hub
        .create_tenant("T", vec!["t.example".into()])
        .await
        .expect("tenant");
    let key = secret.secret;
    let mut counters = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..subs {
        let Receiver { url, requests, .. } = Receiver::start(false).await;
        counters.push(requests);
        let id = subscribe(&client, &base, &key, &url, "t.example").await;
        switch_subscription(&client, &base, &key, &id, "disable").await;
        ids.push(id);
    }
    // The comments, 8 writers at a time; every delivery waits, paused.
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..8 {
        let (client, base, key, next) = (client.clone(), base.clone(), key.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < comments {
                let res = client
                    .post(format!("{base}/api/v1/comments"))
                    .header("x-api-key", &key)
                    .json(&json!({"urlId": "p", "commenterName": "Ана", "comment": "fan-out ✓", "domain": "t.example"}))
                    .send()
                    .await
                    .expect("write");
                assert!(res.status().is_success());
            }
        }));
    }
    for w in writers {
        let _ = w.await;
    }
    let total = comments * subs;
    let before = testkit::bench::claims(&client, &base).await;
    let cpu_before = testkit::bench::process_cpu_seconds(std::process::id());
    let stolen_before = testkit::bench::stolen_seconds();
    let started = Instant::now();
    for id in &ids {
        switch_subscription(&client, &base, &key, id, "enable").await;
    }
    let arrived = || {
        counters
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<usize>()
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while arrived() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = testkit::bench::process_cpu_seconds(std::process::id()) - cpu_before;
    let stolen = testkit::bench::stolen_seconds() - stolen_before;
    let got = arrived();
    let after = testkit::bench::claims(&client, &base).await;
    eprintln!(
        "  {subs} subscription(s): {cpu:.2} s of CPU (hub, receivers, bench) for {secs:.2} s of \
         drain; a claim in flight for {:.0} % of it; {stolen:.2} s stolen by the machine's host",
        (after.2 - before.2) / secs * 100.0
    );
    let claims = (after.0 - before.0, after.1 - before.1);
    let _ = hub.shutdown().await;
    (got, secs, got as f64 / secs, claims)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if flag("--throughput") {
        let comments = arg::<u64>("--comments", 2000) as usize;
        // With `--deliveries`, each run drains that many: a tenth of the comments fan out to
        // ten subscriptions, so both drain a backlog of one size and only the fan-out differs.
        let deliveries = arg::<u64>("--deliveries", 0) as usize;
        let rounds = arg::<u64>("--rounds", 1).max(1);
        let per_run = |subs: usize| {
            if deliveries > 0 {
                deliveries.div_ceil(subs)
            } else {
                comments
            }
        };
        println!(
            "webhook fan-out throughput: {}, paused, then enabled at once; {rounds} round(s)",
            if deliveries > 0 {
                format!("{deliveries} deliveries per run")
            } else {
                format!("{comments} comments")
            }
        );
        println!(
            "| round | subscriptions | deliveries | seconds | deliveries/s | 10 / 1 | claims, of (mean) |"
        );
        println!("|---|---|---|---|---|---|---|");
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let mut one = 0.0;
            for subs in [1, 10] {
                let comments = per_run(subs);
                let (got, secs, rate, (claims, claimed)) = throughput(subs, comments).await;
                let ratio = if subs == 1 {
                    one = rate;
                    String::new()
                } else {
                    ratios.push(rate / one);
                    format!("{:.2}x", rate / one)
                };
                println!(
                    "| {round} | {subs} | {got} of {} | {secs:.2} | {rate:.0} | {ratio} | {claims} of {:.0} |",
                    comments * subs,
                    claimed as f64 / claims.max(1) as f64
                );
            }
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "10 / 1, median of {rounds}: {:.2}x",
            ratios[ratios.len() / 2]
        );
        return;
    }
    let defaults = HubConfig::default();
    println!(
        "webhook hanging-receiver benchmark ({}): {} writes/s for {} s over {} receivers; \
         defaults: pool {}, per host {}, per tenant {}, timeout {} ms; retry base {} ms",
        text_arg("--mode", "config"),
        arg::<u64>("--rate", 200),
        arg::<u64>("--seconds", 30),
        arg::<u64>("--receivers", 10),
        defaults.webhook_concurrency,
        defaults.webhook_per_host_concurrency,
        defaults.webhook_per_tenant_concurrency,
        defaults.webhook_timeout.as_millis(),
        arg::<u64>("--retry-base-ms", 1000),
    );
    // Rounds alternate the runs compared (each a fresh hub), so a slow minute of a shared
    // machine falls on both; each round's ratio is printed, then their median.
    let rounds = arg::<u64>("--rounds", 1).max(1);
    let mut outcomes = Vec::new();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let healthy = run("all healthy", false, false).await;
        let hanging = run("1 hanging", true, false).await;
        ratios.push(hanging.p99 / healthy.p99);
        outcomes.push((round, healthy));
        outcomes.push((round, hanging));
        if flag("--unlimited") {
            outcomes.push((
                round,
                run("1 hanging, no per-host/tenant limit", true, true).await,
            ));
        }
    }
    println!(
        "| round | run | live deliveries arrived | p50 | p99 | max | claims (handed out) | stolen |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (round, o) in &outcomes {
        println!(
            "| {round} | {} | {} of {} | {:.2} ms | {:.2} ms | {:.1} ms | {} ({}) | {:.1} s |",
            o.name,
            o.live_arrived,
            o.live_written,
            o.p50,
            o.p99,
            o.max,
            o.claims.0,
            o.claims.1,
            o.stolen
        );
    }
    for (round, o) in &outcomes {
        if let Some((written, by_status, attempts, requests)) = &o.hanging {
            let mut states: Vec<String> =
                by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
            states.sort();
            println!(
                "round {round}, {}: {written} deliveries to the hanging receiver, all in the \
                 store ({}), {attempts} attempts recorded, {requests} requests reached it",
                o.name,
                states.join(", ")
            );
        }
    }
    let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}x")).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "live p99 with one hanging / all healthy, by round: {}; median {:.2}x (goal ≤ 2x)",
        each.join(", "),
        ratios[ratios.len() / 2]
    );
}
