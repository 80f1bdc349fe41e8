//! Issue 14 §2: a receiver that accepts connections and never answers delays only its own
//! deliveries. Tenant A's receivers hang; tenant B's deliveries keep arriving at once, and A's
//! are still attempted and retried on schedule, none lost.

use super::BACKEND;
use crate::common;

use common::raw_receiver::RawReceiver;
use common::receiver::Receiver;
use common::{Tenant, TestHub};
use fastcomments_hub::HubConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RETRY_BASE_MS: i64 = 200;
const TIMEOUT_MS: u64 = 1500;

async fn configure(hub: &TestHub, t: &Tenant, domain: &str, url: &str) {
    let (s, v) = hub
        .api(&t.key)
        .put_webhook_config(json!({"domain": domain, "create": {"url": url}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn comment(hub: &TestHub, t: &Tenant, domain: &str, n: usize) -> String {
    let (s, v) = hub.api(&t.key).create_comment(json!({"urlId": format!("p{n}"), "commenterName": "x", "comment": format!("c{n}"), "domain": domain})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["comment"]["_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_hanging_receiver_delays_only_its_own_deliveries() {
    // A small pool, so that without per-host and per-tenant limits A's hanging deliveries would
    // take all of it.
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_concurrency: 8,
            webhook_per_host_concurrency: 2,
            webhook_per_tenant_concurrency: 4,
            webhook_timeout: Duration::from_millis(TIMEOUT_MS),
            webhook_retry_base: Duration::from_millis(RETRY_BASE_MS as u64),
            webhook_allow_private_targets: true, // receivers on loopback
            ..common::admin_config()
        },
    )
    .await;
    let a = hub.tenant_owning("A", &["a.example"]).await;
    let b = hub.tenant_owning("B", &["b.example"]).await;
    // A: three hosts that hang (per host 2, per tenant 4: at most 4 of A's in flight).
    let hang = [
        RawReceiver::hanging().await,
        RawReceiver::hanging().await,
        RawReceiver::hanging().await,
    ];
    configure(&hub, &a, "a.example", &hang[0].url).await;
    configure(&hub, &a, "one.a.example", &hang[1].url).await;
    configure(&hub, &a, "two.a.example", &hang[2].url).await;
    let healthy = Receiver::ok().await;
    configure(&hub, &b, "b.example", &healthy.url).await;

    let mut a_ids = Vec::new();
    for n in 0..12 {
        let domain = ["a.example", "one.a.example", "two.a.example"][n % 3];
        a_ids.push(comment(&hub, &a, domain, n).await);
    }
    // The most of A's requests hanging at once, sampled throughout.
    let most_at_once = Arc::new(parking_lot::Mutex::new(0usize));
    let sampler = {
        let (hang, most) = (hang.clone(), most_at_once.clone());
        tokio::spawn(async move {
            loop {
                let now: usize = hang.iter().map(|h| h.hanging.lock().0).sum();
                {
                    let mut m = most.lock();
                    *m = (*m).max(now);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Wait until A's receivers hold all A may have in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    while hang.iter().map(|h| h.hanging.lock().0).sum::<usize>() < 4 {
        assert!(Instant::now() < deadline, "A's deliveries never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // While A hangs, B's deliveries arrive at once.
    let mut latencies = Vec::new();
    for n in 0..5 {
        let written = Instant::now();
        comment(&hub, &b, "b.example", 100 + n).await;
        let got = healthy.wait_for(n + 1, 10).await;
        latencies.push(got[n].at.duration_since(written));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (n, l) in latencies.iter().enumerate() {
        assert!(
            *l < Duration::from_secs(1),
            "B's delivery {n} took {l:?} while A's receivers hung"
        );
    }

    // A's limits held throughout: per host 2, per tenant 4.
    for h in &hang {
        assert!(h.hanging.lock().1 <= 2, "{:?}", h.hanging.lock());
    }

    // Every one of A's deliveries gets attempted and retried on schedule; none is lost.
    let deadline = Instant::now() + Duration::from_secs(20);
    let details = loop {
        let mut details = Vec::new();
        for id in &a_ids {
            let (_, v) = hub.api(&a.key).deliveries(&format!("commentId={id}")).await;
            let d = v["deliveries"][0].clone();
            let (_, detail) = hub.api(&a.key).delivery(d["id"].as_str().unwrap()).await;
            details.push(detail);
        }
        if details
            .iter()
            .all(|d| d["attempts"].as_array().unwrap().len() >= 2)
        {
            break details;
        }
        assert!(
            Instant::now() < deadline,
            "some of A's deliveries were never retried: {:?}",
            details
                .iter()
                .map(|d| d["attempts"].as_array().unwrap().len())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for d in &details {
        assert_eq!(d["delivery"]["status"], "retrying", "{d}");
        let attempts = d["attempts"].as_array().unwrap();
        for (k, pair) in attempts.windows(2).enumerate() {
            let at = |a: &Value| {
                time::OffsetDateTime::parse(
                    a["at"].as_str().unwrap(),
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap()
                .unix_timestamp_nanos()
                    / 1_000_000
            };
            let due = at(&pair[0]) as i64
                + pair[0]["durationMs"].as_i64().unwrap()
                + RETRY_BASE_MS * (k as i64 + 1);
            assert!(
                at(&pair[1]) as i64 >= due - 2,
                "attempt {} came before its retry was due: {d}",
                k + 2
            );
            assert!(
                pair[0]["error"].as_str().unwrap().starts_with("timeout"),
                "{d}"
            );
        }
    }
    sampler.abort();
    let most = *most_at_once.lock();
    assert!(
        most <= 4,
        "{most} of A's requests hung at once (tenant limit 4)"
    );
    let total: usize = hang.iter().map(|h| h.all().len()).sum();
    assert!(total >= 24, "A's receivers saw {total} requests");
}

/// A comment's update is sent as soon as its create is recorded, even while another host's
/// hanging receiver keeps attempts in flight: recording an attempt frees the comment's next
/// delivery, and the dispatcher looks for it then, not at its next one-second tick.
#[tokio::test]
async fn an_update_follows_its_create_at_once_while_another_host_hangs() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            // Long enough that the hanging attempts end no turn of the dispatcher meanwhile.
            webhook_timeout: Duration::from_secs(20),
            webhook_allow_private_targets: true, // receivers on loopback
            ..common::admin_config()
        },
    )
    .await;
    let a = hub.tenant_owning("A", &["a.example"]).await;
    let b = hub.tenant_owning("B", &["b.example"]).await;
    let hang = RawReceiver::hanging().await;
    configure(&hub, &a, "a.example", &hang.url).await;
    let healthy = Receiver::ok().await;
    let (s, v) = hub.api(&b.key).put_webhook_config(json!({"domain": "b.example", "create": {"url": healthy.url}, "update": {"url": healthy.url}})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    comment(&hub, &a, "a.example", 0).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while hang.hanging.lock().0 < 1 {
        assert!(Instant::now() < deadline, "A's delivery never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut gaps = Vec::new();
    for n in 0..5 {
        let id = comment(&hub, &b, "b.example", 10 + n).await;
        let (s, v) = hub
            .api(&b.key)
            .update_comment(&id, json!({"comment": format!("edited {n}")}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let got = healthy.wait_for(2 * (n + 1), 10).await;
        gaps.push(got[2 * n + 1].at.duration_since(got[2 * n].at));
    }
    assert!(
        gaps.iter().all(|g| *g < Duration::from_millis(300)),
        "updates waited after their creates: {gaps:?}"
    );
}

/// One tenant, two subscriptions: the one whose receiver hangs holds at most
/// `webhook_per_subscription_concurrency` attempts, so the tenant's other subscription keeps
/// its share and gets every delivery at once.
#[tokio::test]
async fn a_hanging_subscription_holds_only_its_own_few_slots() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_per_host_concurrency: 16,
            webhook_per_tenant_concurrency: 4,
            webhook_per_subscription_concurrency: 2,
            webhook_timeout: Duration::from_secs(20),
            webhook_allow_private_targets: true, // receivers on loopback
            ..common::admin_config()
        },
    )
    .await;
    let t = hub.tenant_owning("A", &["a.example"]).await;
    let hang = RawReceiver::hanging().await;
    let healthy = Receiver::ok().await;
    for url in [&hang.url, &healthy.url] {
        let (s, v) = hub
            .api(&t.key)
            .subscribe(json!({"url": url, "events": ["create"]}))
            .await;
        assert!(s.is_success(), "{v}");
    }
    for n in 0..10 {
        comment(&hub, &t, "a.example", n).await;
    }
    healthy.wait_for(10, 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (now, most) = *hang.hanging.lock();
    assert_eq!(
        (now, most),
        (2, 2),
        "the hanging subscription holds exactly its limit, no more"
    );
}

/// A host whose attempts all hang keeps its slots until the attempt timeout. What was claimed
/// ahead for it waited for a slot, was given back after the hold bound (a second), and was
/// claimed again at once: a claim and a write each second for nothing, for as long as the
/// host hangs (8 handed out again in 2.5 s here; about 28 a second in the hanging-receiver
/// bench, on the one writer the live deliveries need). A host a held delivery waited the
/// whole bound for gets nothing claimed ahead until one of its attempts succeeds.
#[tokio::test]
async fn a_hanging_hosts_backlog_is_claimed_ahead_once() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_per_host_concurrency: 2,
            webhook_per_tenant_concurrency: 8,
            webhook_timeout: Duration::from_secs(30),
            webhook_allow_private_targets: true, // receivers on loopback
            ..common::admin_config()
        },
    )
    .await;
    let t = hub.tenant_owning("A", &["a.example"]).await;
    let hang = RawReceiver::hanging().await;
    configure(&hub, &t, "a.example", &hang.url).await;
    for n in 0..20 {
        comment(&hub, &t, "a.example", n).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while hang.hanging.lock().0 < 2 {
        assert!(Instant::now() < deadline, "the host's attempts never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Past the first hold bound (what was claimed ahead is given back): from there on,
    // nothing more for the host over two and a half bounds. How much was claimed ahead
    // before depends on how many deliveries each early claim found committed.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let claimed = || hub.running.hub.metrics.webhook_claimed.get();
    let before = claimed();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = claimed() - before;
    assert_eq!(
        again, 0,
        "{again} deliveries handed out again for a host that holds its 2 slots"
    );
    assert_eq!(hang.hanging.lock().1, 2, "its limit held");
}
