//! Operating webhooks at scale (issue 13) with real receivers on loopback: `Retry-After`,
//! Standard Webhooks signatures and secret rotation, subscriptions, `410 Gone`, disabling a
//! failing subscription. `pg_webhook_operations.rs` runs the same on PostgreSQL.

mod common;

use common::receiver::Receiver;
use common::{Tenant, TestHub};
use fastcomments_hub::{HubConfig, SystemClock};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn config(base_ms: u64, max_attempts: i64) -> HubConfig {
    HubConfig {
        admin_token: Some("admin-secret".into()),
        webhook_retry_base: Duration::from_millis(base_ms),
        webhook_max_attempts: max_attempts,
        // The receivers listen on loopback, as a developer's do (SPEC §2.2).
        webhook_allow_private_targets: true,
        ..HubConfig::default()
    }
}

async fn hub_with(base_ms: u64, max_attempts: i64) -> TestHub {
    TestHub::start_with(config(base_ms, max_attempts), Arc::new(SystemClock)).await
}

async fn call_ok(
    hub: &TestHub,
    t: &Tenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (s, v) = hub.call(method, path, Some(&t.key), body).await;
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

async fn configure(hub: &TestHub, t: &Tenant, body: Value) {
    call_ok(hub, t, Method::PUT, "/api/v1/webhook-config", Some(body)).await;
}

async fn comment_on(hub: &TestHub, t: &Tenant, domain: &str, text: &str) -> Value {
    let v = call_ok(
        hub,
        t,
        Method::POST,
        "/api/v1/comments",
        Some(json!({"urlId": "post/1", "commenterName": "Ана", "comment": text, "domain": domain})),
    )
    .await;
    v["comment"].clone()
}

fn gap_ms(got: &[common::receiver::Received], i: usize) -> u64 {
    got[i + 1].at.duration_since(got[i].at).as_millis() as u64
}

/// A 429 or 503 with `Retry-After` (seconds, or an HTTP-date) waits as long as asked, not the
/// schedule's 50 ms; the same header on a 500 is not a request to wait and is ignored.
#[tokio::test]
async fn retry_after_on_429_and_503_is_honoured() {
    // 99 attempts of 50 ms: the longest step (and so the most a Retry-After gets) is 4.95 s.
    let hub = hub_with(50, 99).await;
    let rx = Receiver::with_headers(|r, earlier| {
        let n = earlier.iter().filter(|e| e.path == r.path).count();
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
        match (r.path.as_str(), n) {
            ("/429", 0) => (
                429,
                vec![("Retry-After".into(), "1".into())],
                "slow down".into(),
            ),
            ("/503", 0) => (503, vec![("Retry-After".into(), later)], "later".into()),
            ("/500", 0) => (500, vec![("Retry-After".into(), "3".into())], "oops".into()),
            _ => (200, vec![], "ok".into()),
        }
    })
    .await;
    let t = hub
        .tenant_owning("Acme", &["a.example", "b.example", "c.example"])
        .await;
    for (domain, path) in [
        ("a.example", "/429"),
        ("b.example", "/503"),
        ("c.example", "/500"),
    ] {
        configure(
            &hub,
            &t,
            json!({"domain": domain, "create": {"url": format!("{}{path}", rx.url)}}),
        )
        .await;
        comment_on(&hub, &t, domain, "hello").await;
    }
    let got = rx.wait_for(6, 20).await;
    let of = |path: &str| -> Vec<common::receiver::Received> {
        got.iter().filter(|r| r.path == path).cloned().collect()
    };
    let (a, b, c) = (of("/429"), of("/503"), of("/500"));
    assert_eq!((a.len(), b.len(), c.len()), (2, 2, 2));
    let g429 = gap_ms(&a, 0);
    assert!(
        (1000..1000 + 200 + 700).contains(&g429),
        "429 retried after {g429} ms"
    );
    // The date has whole seconds: 1 to 2 s from the first answer.
    let g503 = gap_ms(&b, 0);
    assert!(
        (900..2400 + 700).contains(&g503),
        "503 retried after {g503} ms"
    );
    let g500 = gap_ms(&c, 0);
    assert!(g500 < 900, "a 500's Retry-After was obeyed: {g500} ms");
}

/// Every address form of issue 13 §4, written as a literal in a test payload's URL, is refused
/// before any connection by a hub without the operator's private-targets setting: multicast,
/// NAT64 and 6to4 of a private address, IPv4-mapped private addresses. A listener on the
/// loopback port they would reach proves nothing got through.
#[tokio::test]
async fn each_ssrf_form_is_refused_end_to_end() {
    let hub = TestHub::start_with(
        HubConfig {
            admin_token: Some("admin-secret".into()),
            ..HubConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await;
    let internal = Receiver::ok().await;
    let port = internal.url.rsplit(':').next().unwrap().to_owned();
    let t = hub.tenant("Acme").await;
    for host in [
        "224.0.0.1",
        "239.255.255.250",
        "[ff02::1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b::a00:1]",
        "[2002:7f00:1::1]",
        "[2002:c0a8:101::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:10.0.0.1]",
        "[::ffff:192.168.1.1]",
        "[::ffff:169.254.169.254]",
    ] {
        let url = format!("http://{host}:{port}/hook");
        let v = call_ok(
            &hub,
            &t,
            Method::POST,
            "/api/v1/webhook-test",
            Some(json!({"kind": "create", "url": url})),
        )
        .await;
        let error = v["attempt"]["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("target-refused"), "{url}: {v}");
        assert_eq!(v["attempt"]["statusCode"], Value::Null, "{url}: {v}");
    }
    assert!(internal.all().is_empty());
}
