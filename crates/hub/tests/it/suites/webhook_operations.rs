//! Operating webhooks at scale (issue 13) with real receivers on loopback: `Retry-After`,
//! Standard Webhooks signatures and secret rotation, subscriptions, `410 Gone`, disabling a
//! failing subscription. `pg_webhook_operations.rs` runs the same on PostgreSQL.

use super::BACKEND;
use crate::common;

use common::receiver::Receiver;
use common::{items, webhook_config, Tenant, TestHub};
use fastcomments_hub::HubConfig;
use fastcomments_webhooks::{
    AcceptedSchemes, CommentOrId, MemoryReplayStore, VerifiedWebhook, Verifier, WebhookEventKind,
};
use parking_lot::Mutex;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

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
    let hub = TestHub::for_webhooks(BACKEND, 50, 99).await;
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
    let hub = TestHub::configured(
        BACKEND,
        common::admin_config(),
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

// ---------- Standard Webhooks and secret rotation ----------

/// What a verifying receiver accepted.
#[derive(Debug, Clone)]
struct Accepted {
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
    event: Option<WebhookEventKind>,
    delivery: Option<String>,
}

#[derive(Clone)]
struct VerifyingState {
    verifier: Verifier,
    accepted: Arc<Mutex<Vec<Accepted>>>,
}

impl axum::extract::FromRef<VerifyingState> for Verifier {
    fn from_ref(s: &VerifyingState) -> Verifier {
        s.verifier.clone()
    }
}

/// A real receiver on loopback that verifies with `fastcomments-webhooks`' axum extractor
/// (which also refuses a `DELETE` not signed as a delete) and records what it accepted.
struct Verifying {
    url: String,
    accepted: Arc<Mutex<Vec<Accepted>>>,
}

impl Verifying {
    async fn start(verifier: Verifier) -> Verifying {
        async fn accept(
            axum::extract::State(s): axum::extract::State<VerifyingState>,
            method: axum::http::Method,
            headers: axum::http::HeaderMap,
            hook: VerifiedWebhook<CommentOrId>,
        ) -> &'static str {
            s.accepted.lock().push(Accepted {
                method,
                headers,
                event: hook.event(),
                delivery: hook.delivery_id().map(str::to_owned),
                body: hook.body,
            });
            "ok"
        }
        let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::default();
        let app = axum::Router::new()
            .fallback(accept)
            .with_state(VerifyingState {
                verifier,
                accepted: accepted.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Verifying { url, accepted }
    }

    async fn wait_for(&self, n: usize) -> Vec<Accepted> {
        for _ in 0..1000 {
            let got = self.accepted.lock().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "only {} of {n} webhooks were accepted",
            self.accepted.lock().len()
        );
    }

    /// Sends a captured request again, with another method.
    async fn replay(&self, r: &Accepted, method: Method) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().request(method, &self.url);
        for (name, value) in &r.headers {
            if name != "host" && name != "content-length" {
                req = req.header(name.as_str(), value.as_bytes());
            }
        }
        let res = req.body(r.body.clone()).send().await.unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }
}

fn standard_only(keys: &[&str]) -> Verifier {
    Verifier::new(keys.iter().copied()).with_schemes(AcceptedSchemes::StandardWebhooksOnly)
}

fn fastcomments_only(keys: &[&str]) -> Verifier {
    Verifier::new(keys.iter().copied()).with_schemes(AcceptedSchemes::FastCommentsOnly)
}

async fn wildcard_secret_id(hub: &TestHub, t: &Tenant) -> String {
    let v = call_ok(hub, t, Method::GET, "/api/v1/api-secrets", None).await;
    items(&v["apiSecrets"])
        .find(|s| s["domain"] == "*")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn v1_entries(r: &Accepted) -> usize {
    r.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .filter(|e| e.starts_with("v1,"))
        .count()
}

/// Every delivery carries both schemes: the Standard Webhooks id is `<kind>_<delivery id>`,
/// matching the unchanged `X-FastComments-Event` / `-Delivery` headers; a receiver checking
/// only Standard Webhooks and one checking only the FastComments signature both accept it.
/// The replay hole of issue 13 §3: a captured update sent again as a `DELETE` passes the
/// FastComments check but is refused by Standard Webhooks (`method-mismatch`), and any copy
/// by a receiver with a replay store (`replayed`).
#[tokio::test]
async fn deliveries_are_signed_both_ways_and_a_replayed_update_is_no_delete() {
    let hub = TestHub::for_webhooks(BACKEND, 50, 5).await;
    let t = hub.tenant("Acme").await;
    let strict =
        Verifying::start(standard_only(&[&t.key]).with_replay_store(MemoryReplayStore::new()))
            .await;
    let url = strict.url.clone();
    configure(&hub, &t, json!({"domain": "*", "create": {"url": url}, "update": {"url": url}, "delete": {"url": url}})).await;
    let c = comment_on(&hub, &t, "acme.example", "first").await;
    let id = c["_id"].as_str().unwrap();
    call_ok(
        &hub,
        &t,
        Method::PATCH,
        &format!("/api/v1/comments/{id}"),
        Some(json!({"comment": "second"})),
    )
    .await;
    call_ok(
        &hub,
        &t,
        Method::DELETE,
        &format!("/api/v1/comments/{id}"),
        None,
    )
    .await;
    let got = strict.wait_for(3).await;
    let kinds: Vec<_> = got.iter().map(|a| (a.event, a.method.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (Some(WebhookEventKind::Create), "PUT"),
            (Some(WebhookEventKind::Update), "PUT"),
            (Some(WebhookEventKind::Delete), "DELETE")
        ]
    );
    for a in &got {
        let header = |n: &str| a.headers[n].to_str().unwrap().to_owned();
        let delivery = header("x-fastcomments-delivery");
        assert_eq!(a.delivery.as_deref(), Some(delivery.as_str()));
        let kind = a.event.unwrap();
        assert_eq!(
            header("webhook-id"),
            format!("{}_{delivery}", kind.as_str())
        );
        assert_eq!(
            header("webhook-timestamp"),
            header("x-fastcomments-timestamp")
        );
        assert_eq!(header("x-fastcomments-event"), kind.header_value());
        assert_eq!(v1_entries(a), 1);
        fastcomments_only(&[&t.key])
            .verify(&a.headers, &a.body)
            .unwrap();
    }

    // The update, captured and sent again as a DELETE.
    let update = &got[1];
    let lax = Verifying::start(standard_only(&[&t.key])).await;
    let (s, v) = lax.replay(update, Method::DELETE).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("method-mismatch")),
        "{v}"
    );
    let (s, v) = strict.replay(update, Method::PUT).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("replayed")),
        "{v}"
    );
    // The FastComments scheme alone cannot tell (why receivers should move).
    let fc = fastcomments_only(&[&t.key])
        .verify(&update.headers, &update.body)
        .unwrap();
    assert!(fc.check_method(&Method::DELETE).is_ok());
    assert_eq!(lax.accepted.lock().len(), 0);

    // Test payloads are signed both ways too.
    for kind in ["create", "update", "delete"] {
        let v = call_ok(
            &hub,
            &t,
            Method::POST,
            "/api/v1/webhook-test",
            Some(json!({"kind": kind, "url": lax.url})),
        )
        .await;
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["forged"]["refused"], true, "{v}");
    }
    let tests = lax.wait_for(3).await;
    for a in &tests {
        fastcomments_only(&[&t.key])
            .verify(&a.headers, &a.body)
            .unwrap();
    }
}

/// A rotation: the new secret at once, the old one kept for the overlap. Meanwhile every
/// delivery carries two `v1,` signatures, so a receiver that knows only the old secret and
/// one that knows only the new one both verify it, and the FastComments header is still the
/// old secret's (which every existing receiver has). When the overlap ends, maintenance
/// retires the old secret: one signature again, by the new secret, and the old one no longer
/// authenticates.
#[tokio::test]
async fn a_rotation_signs_with_both_secrets_until_the_old_one_retires() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            maintenance_interval: Duration::from_millis(100),
            ..webhook_config(50, 5)
        },
    )
    .await;
    let t = hub.tenant("Acme").await;
    let old_key = t.key.clone();
    let rx = Verifying::start(Verifier::new([old_key.as_str()])).await;
    configure(&hub, &t, json!({"domain": "*", "create": {"url": rx.url}})).await;
    let old_id = wildcard_secret_id(&hub, &t).await;

    let v = call_ok(
        &hub,
        &t,
        Method::POST,
        &format!("/api/v1/api-secrets/{old_id}/rotate"),
        Some(json!({"overlapSeconds": 2})),
    )
    .await;
    let new_key = v["apiSecret"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(v["apiSecret"]["domain"], "*");
    assert_eq!(v["retiring"]["id"], old_id.as_str());
    let again = hub
        .call(
            Method::POST,
            &format!("/api/v1/api-secrets/{old_id}/rotate"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(again.0, StatusCode::CONFLICT, "{}", again.1);
    let listed = call_ok(&hub, &t, Method::GET, "/api/v1/api-secrets/rotations", None).await;
    assert_eq!(listed["retiring"][0]["id"], old_id.as_str());

    comment_on(&hub, &t, "acme.example", "during the overlap").await;
    let during = rx.wait_for(1).await.remove(0);
    assert_eq!(v1_entries(&during), 2);
    standard_only(&[&old_key])
        .verify(&during.headers, &during.body)
        .unwrap();
    standard_only(&[&new_key])
        .verify(&during.headers, &during.body)
        .unwrap();
    fastcomments_only(&[&old_key])
        .verify(&during.headers, &during.body)
        .unwrap();
    assert!(fastcomments_only(&[&new_key])
        .verify(&during.headers, &during.body)
        .is_err());

    // After the overlap and a maintenance run, the old secret is gone.
    let newcomer = Tenant {
        id: t.id.clone(),
        key: new_key.clone(),
    };
    for _ in 0..100 {
        let (s, _) = hub.api(&old_key).secrets().await;
        if s == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, _) = hub.api(&old_key).secrets().await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the old secret still authenticates"
    );
    let listed = call_ok(
        &hub,
        &newcomer,
        Method::GET,
        "/api/v1/api-secrets/rotations",
        None,
    )
    .await;
    assert_eq!(listed["retiring"], json!([]));
    let rx2 = Verifying::start(standard_only(&[&new_key])).await;
    configure(
        &hub,
        &newcomer,
        json!({"domain": "*", "create": {"url": rx2.url}}),
    )
    .await;
    comment_on(&hub, &newcomer, "acme.example", "after").await;
    let after = rx2.wait_for(1).await.remove(0);
    assert_eq!(v1_entries(&after), 1);
    fastcomments_only(&[&new_key])
        .verify(&after.headers, &after.body)
        .unwrap();
    assert!(standard_only(&[&old_key])
        .verify(&after.headers, &after.body)
        .is_err());
}

// ---------- metrics ----------

/// The value of one sample of an OpenMetrics exposition (`name{labels}` as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split(' ').next()?.parse().ok())
}

async fn metrics_text(hub: &TestHub) -> String {
    let res = hub.get_raw("/metrics").await;
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    res.text().await.unwrap()
}

/// The backticked words of a Markdown table row, in order.
fn backticked(row: &str) -> Vec<&str> {
    row.split('`').skip(1).step_by(2).collect()
}

/// Every series the metrics table of docs/webhooks.md names is on `/metrics`, the deliveries
/// gauge has a sample for each state that row names and for no other, and every counter the
/// README and docs/ name exists: a statement of the docs the hub does not make is a bug.
#[tokio::test]
async fn the_metrics_docs_name_what_metrics_shows() {
    let hub = TestHub::configured(BACKEND, webhook_config(60_000, 5)).await;
    let text = metrics_text(&hub).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/webhooks.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let rows: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.starts_with("## Watching deliveries"))
        .filter(|l| l.starts_with("| `fastcomments_"))
        .collect();
    assert!(rows.len() >= 8, "{rows:?}");
    for row in &rows {
        for series in backticked(row)
            .into_iter()
            .filter(|w| w.starts_with("fastcomments_"))
        {
            let name = series.split('{').next().unwrap_or(series);
            let family = name.strip_suffix("_total").unwrap_or(name);
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "docs/webhooks.md names {series}, /metrics has no {family}:\n{text}"
            );
        }
    }
    let gauge = rows
        .iter()
        .find(|r| r.starts_with("| `fastcomments_webhook_deliveries{state}`"))
        .unwrap();
    let states: Vec<&str> = backticked(gauge)
        .into_iter()
        .filter(|w| !w.starts_with("fastcomments_"))
        .collect();
    assert!(!states.is_empty(), "{gauge}");
    for state in &states {
        let series = format!("fastcomments_webhook_deliveries{{state=\"{state}\"}}");
        assert!(sample(&text, &series).is_some(), "{series}\n{text}");
    }
    let shown = text
        .lines()
        .filter(|l| l.starts_with("fastcomments_webhook_deliveries{state="))
        .count();
    assert_eq!(shown, states.len(), "{states:?}\n{text}");
    // Every counter the README and the other docs name (`…_total`) is on `/metrics` too.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    for file in files {
        let doc = std::fs::read_to_string(&file).unwrap();
        for word in doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(family) = word
                .strip_prefix("fastcomments_")
                .and_then(|w| w.strip_suffix("_total"))
            {
                assert!(
                    text.contains(&format!("# TYPE fastcomments_{family} counter")),
                    "{} names {word}, /metrics has no such counter",
                    file.display()
                );
            }
        }
    }
}

/// A receiver that accepts connections and never answers.
async fn hanging() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    url
}

/// A backlog for one receiver is claimed up to twice its host's share at a time, and a slot
/// freeing while the host holds that much already asks the store for nothing (issue 23 §2: a
/// claim costs the store about the same for 1 row as for 64). `/metrics` counts the claims:
/// about deliveries / (2 × per host), where a claim at every freed batch, a share at most,
/// made at least deliveries / per host, one in two of them finding nothing.
#[tokio::test]
async fn a_backlog_is_claimed_two_shares_at_a_time_and_never_for_nothing() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_concurrency: 64,
            webhook_per_host_concurrency: 4,
            webhook_per_tenant_concurrency: 64,
            webhook_per_subscription_concurrency: 64,
            ..webhook_config(60_000, 5)
        },
    )
    .await;
    let t = hub.tenant_owning("Acme", &["acme.example"]).await;
    let rx = Receiver::ok().await;
    configure(
        &hub,
        &t,
        json!({"domain": "*", "create": {"url": rx.url}, "fireOnImport": true}),
    )
    .await;
    hub.connect(&t, "claims-token", false).await;
    const N: usize = 240;
    let comments: Vec<Value> = (0..N)
        .map(|i| json!({"externalId": i, "urlId": format!("post-{i}"), "comment": format!("c{i}"), "commenterName": "W"}))
        .collect();
    let claims_before = sample(&metrics_text(&hub).await, "fastcomments_webhook_claims_total")
        .expect("the claims counter");
    let (s, v) = hub
        .upload(
            "claims-token",
            json!({"start": 0, "hasMore": false, "countRemaining": 0, "comments": comments}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    rx.wait_for(N, 30).await;
    let text = metrics_text(&hub).await;
    let claims = sample(&text, "fastcomments_webhook_claims_total").unwrap() - claims_before;
    let claimed = sample(&text, "fastcomments_webhook_claimed_total").unwrap();
    assert!(claimed >= N as f64, "{claimed} handed out for {N} sent");
    // And how long they took, each at least the store's round trip.
    let took = sample(&text, "fastcomments_webhook_claim_seconds_total").unwrap();
    assert!(took > 0.0 && took < 30.0, "claims took {took} s");
    // 240 / 8 = 30 claims of 8, and a few a wake-up or the second's look asks for.
    assert!(
        claims <= 40.0,
        "{claims} claims for {N} deliveries to one host of 4 slots"
    );
}

/// `/metrics` (through `prometheus-client`) counts attempts by outcome, observes the latency
/// from commit to 2xx in a histogram, and tells the store's deliveries by state, queue depth,
/// the oldest pending delivery's age and disabled subscriptions; the older counters keep
/// their names.
#[tokio::test]
async fn metrics_count_attempts_by_outcome_and_tell_the_queue() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_timeout: Duration::from_millis(300),
            ..webhook_config(60_000, 5)
        },
    )
    .await;
    let answering = Receiver::with(|r, _| match r.path.as_str() {
        "/404" => (404, "no".into()),
        "/503" => (503, "busy".into()),
        _ => (200, "ok".into()),
    })
    .await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let targets = [
        ("ok.example", format!("{}/ok", answering.url)),
        ("nf.example", format!("{}/404", answering.url)),
        ("busy.example", format!("{}/503", answering.url)),
        ("hang.example", hanging().await),
        ("closed.example", closed),
    ];
    let domains: Vec<&str> = targets.iter().map(|(d, _)| *d).collect();
    let t = hub.tenant_owning("Acme", &domains).await;
    for (domain, url) in &targets {
        configure(&hub, &t, json!({"domain": domain, "create": {"url": url}})).await;
        comment_on(&hub, &t, domain, "hello").await;
    }
    let outcomes = ["2xx", "4xx", "5xx", "timeout", "refused"];
    let mut text = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = metrics_text(&hub).await;
        let counted: f64 = outcomes
            .iter()
            .filter_map(|o| {
                sample(
                    &text,
                    &format!("fastcomments_webhook_attempts_total{{outcome=\"{o}\"}}"),
                )
            })
            .sum();
        let retrying = sample(&text, "fastcomments_webhook_deliveries{state=\"retrying\"}");
        if counted >= 5.0 && retrying == Some(4.0) {
            break;
        }
    }
    for o in outcomes {
        let series = format!("fastcomments_webhook_attempts_total{{outcome=\"{o}\"}}");
        assert_eq!(sample(&text, &series), Some(1.0), "{series}\n{text}");
    }
    assert_eq!(
        sample(
            &text,
            "fastcomments_webhook_attempts_total{outcome=\"error\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "fastcomments_webhook_delivery_latency_seconds_count"),
        Some(1.0),
        "{text}"
    );
    let fast = sample(
        &text,
        "fastcomments_webhook_delivery_latency_seconds_bucket{le=\"10.24\"}",
    );
    assert_eq!(fast, Some(1.0), "{text}");
    assert!(text.contains("# TYPE fastcomments_webhook_delivery_latency_seconds histogram"));
    // Open deliveries by state; sent and cancelled ones are not counted (the retention keeps
    // them: counting them read the whole outbox at each refresh).
    for (state, n) in [
        ("queued", Some(0.0)),
        ("retrying", Some(4.0)),
        ("paused", Some(0.0)),
        ("failed", Some(0.0)),
        ("succeeded", None),
        ("cancelled", None),
    ] {
        let series = format!("fastcomments_webhook_deliveries{{state=\"{state}\"}}");
        assert_eq!(sample(&text, &series), n, "{series}\n{text}");
    }
    assert_eq!(sample(&text, "fastcomments_webhook_queue_depth"), Some(4.0));
    let age = sample(&text, "fastcomments_webhook_oldest_pending_age_seconds").unwrap();
    assert!(age > 0.0 && age < 60.0, "{age}");
    assert_eq!(
        sample(&text, "fastcomments_webhook_disabled_subscriptions"),
        Some(0.0)
    );
    assert!(sample(&text, "fastcomments_http_responses_total{class=\"2xx\"}").unwrap() >= 10.0);
    assert_eq!(sample(&text, "fastcomments_polls_total"), Some(0.0));
    assert!(text.ends_with("# EOF\n"), "{text}");
}

// ---------- subscriptions ----------

async fn subscribe(hub: &TestHub, t: &Tenant, body: Value) -> (StatusCode, Value) {
    hub.api(&t.key).subscribe(body).await
}

fn kinds_and_texts(got: &[common::receiver::Received]) -> Vec<(String, String)> {
    got.iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            (
                r.header("x-fastcomments-event").unwrap(),
                body["comment"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A change fans out to every matching subscription (and the per-domain configuration, still
/// one target per kind), each with its own delivery and order: the healthy receiver gets
/// create, update, delete in order at once while another subscription's receiver fails every
/// attempt and a third hangs. The same subscription twice is the first; 50 at most; removing
/// one stops its deliveries; sample payloads, one per kind.
#[tokio::test]
async fn subscriptions_fan_out_each_in_order_and_a_dead_receiver_delays_no_one() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_timeout: Duration::from_millis(2_000),
            ..webhook_config(40, 50)
        },
    )
    .await;
    let t = hub
        .tenant_owning("Acme", &["acme.example", "other.example"])
        .await;
    let healthy = Receiver::ok().await;
    let legacy = Receiver::ok().await;
    let dead = Receiver::with(|_, _| (500, "down".into())).await;
    let hang = hanging().await;
    configure(
        &hub,
        &t,
        json!({"domain": "*", "create": {"url": legacy.url}}),
    )
    .await;
    let (s, a) = subscribe(&hub, &t, json!({"url": healthy.url})).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(
        a["webhook"]["events"],
        json!(["create", "update", "delete"])
    );
    assert_eq!(a["webhook"]["domains"], json!(["*"]));
    // Made without a method, it is shown with the one it is sent with.
    assert_eq!(a["webhook"]["method"], "POST", "{a}");
    let (s, again) = subscribe(&hub, &t, json!({"url": healthy.url, "events": ["delete", "comment.created", "update"], "domains": ["*"]})).await;
    assert_eq!(
        (s, &again["created"]),
        (StatusCode::OK, &json!(false)),
        "{again}"
    );
    assert_eq!(again["webhook"]["id"], a["webhook"]["id"]);
    let (s, _) = subscribe(
        &hub,
        &t,
        json!({"url": dead.url, "method": "POST", "events": ["create", "update"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = subscribe(&hub, &t, json!({"url": hang, "domains": ["acme.example"]})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, elsewhere) = subscribe(
        &hub,
        &t,
        json!({"url": format!("{}/other", healthy.url), "domains": ["other.example"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    for (body, code) in [
        (json!({"url": "ftp://x.example"}), "invalid-body"),
        (
            json!({"url": healthy.url, "method": "DELETE", "events": ["create"]}),
            "invalid-body",
        ),
        (
            json!({"url": healthy.url, "events": ["vote"]}),
            "invalid-body",
        ),
        (
            json!({"url": healthy.url, "domains": ["not-ours.example"]}),
            "domain-not-owned",
        ),
    ] {
        let (s, v) = subscribe(&hub, &t, body.clone()).await;
        assert!(s.is_client_error(), "{body}: {s} {v}");
        assert_eq!(v["code"], code, "{body}: {v}");
    }

    let started = std::time::Instant::now();
    let c = comment_on(&hub, &t, "acme.example", "one").await;
    let id = c["_id"].as_str().unwrap();
    call_ok(
        &hub,
        &t,
        Method::PATCH,
        &format!("/api/v1/comments/{id}"),
        Some(json!({"comment": "two"})),
    )
    .await;
    call_ok(
        &hub,
        &t,
        Method::DELETE,
        &format!("/api/v1/comments/{id}"),
        None,
    )
    .await;
    let got = healthy.wait_for(3, 10).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1_500),
        "the healthy receiver waited {took:?}"
    );
    assert_eq!(
        kinds_and_texts(&got),
        [
            ("comment.created".to_owned(), "one".to_owned()),
            ("comment.updated".to_owned(), "two".to_owned()),
            ("comment.deleted".to_owned(), "two".to_owned())
        ]
    );
    assert!(
        got.iter().all(|r| r.path == "/"),
        "other.example's subscription matched"
    );
    assert_eq!(legacy.wait_for(1, 5).await.len(), 1);
    // The dead receiver sees only its create, again and again: its update waits behind it.
    // Waited for, not slept on: three attempts are 120 ms of schedule plus four round trips to
    // the store, which on a loaded machine took more than a fixed 400 ms.
    let dead_got = dead.wait_for(3, 10).await;
    assert!(dead_got
        .iter()
        .all(
            |r| r.header("x-fastcomments-event").as_deref() == Some("comment.created")
                && r.method == "POST"
        ));
    let ds = call_ok(
        &hub,
        &t,
        Method::GET,
        &format!("/api/v1/webhook-deliveries?commentId={id}"),
        None,
    )
    .await;
    // create: legacy + 3 subscriptions; update: 3; delete: 2 (healthy, hanging); each names
    // its subscription but the configuration's.
    let with_sub = items(&ds["deliveries"])
        .filter(|d| d["subscriptionId"].is_string())
        .count();
    assert_eq!(with_sub, 3 + 3 + 2, "{ds}");
    assert_eq!(
        ds["deliveries"].as_array().unwrap().len(),
        4 + 3 + 2,
        "{ds}"
    );

    let listed = call_ok(&hub, &t, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 4);
    let samples = call_ok(
        &hub,
        &t,
        Method::GET,
        "/api/v1/webhooks/sample-payloads",
        None,
    )
    .await;
    let kinds: Vec<&str> = items(&samples["samples"])
        .map(|s| s["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["comment.created", "comment.updated", "comment.deleted"]
    );
    assert!(samples["samples"][2]["body"]["commenterName"].is_string());

    // Removing a subscription: gone from the list, nothing more sent to it.
    let gone = elsewhere["webhook"]["id"].as_str().unwrap();
    call_ok(
        &hub,
        &t,
        Method::DELETE,
        &format!("/api/v1/webhooks/{gone}"),
        None,
    )
    .await;
    let (s, _) = hub.api(&t.key).unsubscribe(gone).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Up to 50 in all.
    for i in 3..50 {
        let (s, v) = subscribe(
            &hub,
            &t,
            json!({"url": format!("{}/n{i}", healthy.url), "events": ["delete"]}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{i}: {v}");
    }
    let (s, v) = subscribe(&hub, &t, json!({"url": format!("{}/n50", healthy.url)})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("too-many-webhooks")),
        "{v}"
    );
}

/// A receiver answering `410 Gone` unsubscribes: the subscription is removed (and its
/// waiting deliveries cancelled), a configuration loses that kind's target; no retry.
#[tokio::test]
async fn a_410_gone_unsubscribes() {
    let hub = TestHub::for_webhooks(BACKEND, 30, 10).await;
    let t = hub.tenant_owning("Acme", &["acme.example"]).await;
    let gone = Receiver::with(|_, _| (410, "gone".into())).await;
    configure(&hub, &t, json!({"domain": "*", "create": {"url": format!("{}/legacy", gone.url)}, "update": {"url": format!("{}/legacy", gone.url)}})).await;
    let (s, _) = subscribe(&hub, &t, json!({"url": format!("{}/sub", gone.url)})).await;
    assert_eq!(s, StatusCode::CREATED);
    comment_on(&hub, &t, "acme.example", "hello").await;
    gone.wait_for(2, 5).await;
    let mut listed = Value::Null;
    let mut config = Value::Null;
    for _ in 0..100 {
        listed = call_ok(&hub, &t, Method::GET, "/api/v1/webhooks", None).await;
        config = call_ok(
            &hub,
            &t,
            Method::GET,
            "/api/v1/webhook-config?domain=*",
            None,
        )
        .await;
        if listed["webhooks"] == json!([]) && config["config"]["create"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed["webhooks"], json!([]), "{listed}");
    assert!(config["config"]["create"].is_null(), "{config}");
    assert!(
        config["config"]["update"].is_object(),
        "only the kind that answered 410: {config}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gone.all().len(), 2, "a 410 was retried");
    let ds = call_ok(&hub, &t, Method::GET, "/api/v1/webhook-deliveries", None).await;
    let statuses: Vec<&str> = items(&ds["deliveries"])
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == "failed" || *s == "cancelled"),
        "{statuses:?}"
    );
}

/// A subscription whose receiver fails continuously for `webhook_disable_after` is disabled:
/// the API, the log and `/metrics` say so, its deliveries wait as `paused` (new ones too), and
/// enabling it again sends every one of them, in the comment's order.
#[tokio::test]
async fn a_failing_subscription_is_disabled_and_resumes_in_order() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_disable_after: Duration::from_millis(400),
            maintenance_interval: Duration::from_millis(100),
            ..webhook_config(40, 1_000)
        },
    )
    .await;
    let t = hub.tenant_owning("Acme", &["acme.example"]).await;
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rx = {
        let up = up.clone();
        Receiver::with(move |_, _| {
            if up.load(std::sync::atomic::Ordering::SeqCst) {
                (200, "ok".into())
            } else {
                (500, "down".into())
            }
        })
        .await
    };
    let (_, sub) = subscribe(&hub, &t, json!({"url": rx.url})).await;
    let sub_id = sub["webhook"]["id"].as_str().unwrap().to_owned();
    let c = comment_on(&hub, &t, "acme.example", "v1").await;
    let id = c["_id"].as_str().unwrap().to_owned();
    for text in ["v2", "v3"] {
        call_ok(
            &hub,
            &t,
            Method::PATCH,
            &format!("/api/v1/comments/{id}"),
            Some(json!({"comment": text})),
        )
        .await;
    }
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = call_ok(&hub, &t, Method::GET, "/api/v1/webhooks", None).await;
        if listed["webhooks"][0]["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let w = &listed["webhooks"][0];
    assert_eq!(w["enabled"], false, "{listed}");
    assert!(
        w["disabledReason"].as_str().unwrap().contains("failed"),
        "{w}"
    );
    assert!(w["failingSince"].is_string(), "{w}");
    let text = metrics_text(&hub).await;
    assert_eq!(
        sample(&text, "fastcomments_webhook_disabled_subscriptions"),
        Some(1.0),
        "{text}"
    );
    // Disabled: nothing more is sent; a change made now waits too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tried = rx.all().len();
    call_ok(
        &hub,
        &t,
        Method::PATCH,
        &format!("/api/v1/comments/{id}"),
        Some(json!({"comment": "v4"})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.all().len(), tried, "a disabled subscription was sent to");
    let ds = call_ok(
        &hub,
        &t,
        Method::GET,
        &format!("/api/v1/webhook-deliveries?commentId={id}"),
        None,
    )
    .await;
    let statuses: Vec<&str> = items(&ds["deliveries"])
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["paused"; 4], "{ds}");

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let v = call_ok(
        &hub,
        &t,
        Method::POST,
        &format!("/api/v1/webhooks/{sub_id}/enable"),
        None,
    )
    .await;
    assert_eq!(v["webhook"]["enabled"], true);
    let got = rx.wait_for(tried + 4, 10).await;
    let delivered: Vec<(String, String)> = kinds_and_texts(&got[tried..]);
    assert_eq!(
        delivered,
        [
            ("comment.created".to_owned(), "v1".to_owned()),
            ("comment.updated".to_owned(), "v2".to_owned()),
            ("comment.updated".to_owned(), "v3".to_owned()),
            ("comment.updated".to_owned(), "v4".to_owned())
        ]
    );
    let listed = call_ok(&hub, &t, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(
        listed["webhooks"][0]["failingSince"],
        Value::Null,
        "{listed}"
    );
}

/// The subscription and rotation endpoints act on the caller's tenant only: another tenant's
/// subscription or secret id is `404` and left as it was; bad input is a `400` with a code.
#[tokio::test]
async fn subscriptions_and_rotation_refuse_other_tenants_ids_and_bad_input() {
    let hub = TestHub::for_webhooks(BACKEND, 1000, 3).await;
    let a = hub.tenant_owning("A", &["a.example"]).await;
    let b = hub.tenant_owning("B", &["b.example"]).await;
    let sub = call_ok(
        &hub,
        &a,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": "https://hooks.a.example/"})),
    )
    .await;
    let sub_id = sub["webhook"]["id"].as_str().unwrap().to_owned();
    let secrets = call_ok(&hub, &a, Method::GET, "/api/v1/api-secrets", None).await;
    let secret_id = secrets["apiSecrets"][0]["id"].as_str().unwrap().to_owned();

    for (method, path) in [
        (Method::DELETE, format!("/api/v1/webhooks/{sub_id}")),
        (Method::POST, format!("/api/v1/webhooks/{sub_id}/disable")),
        (Method::POST, format!("/api/v1/webhooks/{sub_id}/enable")),
        (
            Method::POST,
            format!("/api/v1/api-secrets/{secret_id}/rotate"),
        ),
    ] {
        let (s, v) = hub.call(method.clone(), &path, Some(&b.key), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path} by B: {v}");
    }
    let listed = call_ok(&hub, &a, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(
        listed["webhooks"][0]["enabled"], true,
        "untouched: {listed}"
    );
    let rotations = call_ok(&hub, &a, Method::GET, "/api/v1/api-secrets/rotations", None).await;
    assert_eq!(rotations["retiring"].as_array().unwrap().len(), 0);
    let of_b = call_ok(&hub, &b, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(
        of_b["webhooks"].as_array().unwrap().len(),
        0,
        "B sees none of A's"
    );

    for (path, body) in [
        ("/api/v1/webhooks", json!({"url": "ftp://x.example/"})),
        (
            "/api/v1/webhooks",
            json!({"url": "https://x.example/", "events": ["nope"]}),
        ),
        (
            "/api/v1/webhooks",
            json!({"url": "https://x.example/", "typo": 1}),
        ),
        (
            "/api/v1/webhooks",
            json!({"url": "https://x.example/", "domains": ["b.example"]}),
        ),
        (
            "/api/v1/webhook-deliveries/retry-failed",
            json!({"since": "not a date"}),
        ),
    ] {
        let (s, v) = hub
            .call(Method::POST, path, Some(&a.key), Some(body.clone()))
            .await;
        assert!(s.is_client_error(), "{path} {body}: {s} {v}");
        assert!(v["code"].is_string(), "{path} {body}: {v}");
    }
    let (s, v) = hub
        .api(&a.key)
        .rotate_secret(&secret_id, json!({"overlapSeconds": 365 * 24 * 3600}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

/// A rotation's overlap ends on time, not at the next maintenance run (hourly by default):
/// a second after an overlap of one second, the old secret no longer authenticates.
#[tokio::test]
async fn a_rotated_secret_retires_when_its_overlap_ends_without_waiting_for_maintenance() {
    let hub = TestHub::configured(
        BACKEND,
        HubConfig {
            maintenance_interval: Duration::from_secs(3600),
            ..webhook_config(50, 5)
        },
    )
    .await;
    let t = hub.tenant("Acme").await;
    let old_id = wildcard_secret_id(&hub, &t).await;
    let v = call_ok(
        &hub,
        &t,
        Method::POST,
        &format!("/api/v1/api-secrets/{old_id}/rotate"),
        Some(json!({"overlapSeconds": 1})),
    )
    .await;
    let new_key = v["apiSecret"]["secret"].as_str().unwrap().to_owned();
    let (s, _) = hub.api(&t.key).secrets().await;
    assert_eq!(s, StatusCode::OK, "still valid during the overlap");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (s, _) = hub.api(&t.key).secrets().await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "retired when the overlap ended"
    );
    let (s, _) = hub.api(&new_key).secrets().await;
    assert_eq!(s, StatusCode::OK);
}
