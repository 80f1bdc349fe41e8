//! Webhook delivery (SPEC §2) with real receivers on loopback, so the hub runs with the
//! operator's `webhook_allow_private_targets` on; `tests/ssrf.rs` covers the hub without it.

use super::BACKEND;
use crate::common;

use common::receiver::{Received, Receiver};
use common::{assert_refused, items, Tenant, TestHub};
use fastcomments_protocol::{WebhookComment, WebhookEventKind};
use fastcomments_webhooks::Verifier;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn configure(hub: &TestHub, t: &Tenant, body: Value) {
    let (s, v) = hub.api(&t.key).put_webhook_config(body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// A new tenant called `name` with the webhook configuration `hooks`.
async fn tenant_with_hooks(hub: &TestHub, name: &str, hooks: Value) -> Tenant {
    let t = hub.tenant(name).await;
    configure(hub, &t, hooks).await;
    t
}

/// A new tenant called `name` whose comments created on `domain` go to `rx`.
async fn tenant_creating_to(hub: &TestHub, name: &str, domain: &str, rx: &Receiver) -> Tenant {
    let hooks = json!({"domain": domain, "create": {"url": rx.url.clone()}});
    tenant_with_hooks(hub, name, hooks).await
}

async fn comment_on(hub: &TestHub, t: &Tenant, domain: &str, text: &str) -> Value {
    let (s, v) = hub.api(&t.key).create_comment(json!({"urlId": "post/1", "url": "https://blog.example/post/1?x=1", "commenterName": "Ана", "comment": text, "domain": domain})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["comment"].clone()
}

fn verify(r: &Received, key: &str) -> (fastcomments_webhooks::Verified, WebhookComment) {
    let verified = Verifier::new([key])
        .verify(&r.headers, &r.body)
        .unwrap_or_else(|e| panic!("{e}: {r:?}"));
    let body: WebhookComment = serde_json::from_slice(&r.body).unwrap();
    // The exact bytes are the compact form of what they say.
    assert_eq!(body.to_body(), r.body.to_vec());
    (verified, body)
}

#[tokio::test]
async fn every_change_sends_the_right_kind_method_and_signed_body() {
    let hub = TestHub::for_webhooks(BACKEND, 50, 5).await;
    let rx = Receiver::ok().await;
    let t = tenant_with_hooks(
        &hub,
        "Acme",
        json!({"domain": "acme.example",
               "create": {"url": format!("{}/hooks/create", rx.url)},
               "update": {"url": format!("{}/hooks/update", rx.url), "method": "POST"},
               "delete": {"url": format!("{}/hooks/delete", rx.url)}}),
    )
    .await;
    let c = comment_on(
        &hub,
        &t,
        "acme.example",
        "Здравей, свят 👋 — see https://example.com/a/b",
    )
    .await;
    let id = c["_id"].as_str().unwrap();
    hub.api(&t.key)
        .update_comment(id, json!({"comment": "edited ✓"}))
        .await;
    hub.api(&t.key).vote(id, json!({"direction": 1})).await;
    hub.api(&t.key).delete_comment(id).await;
    let got = rx.wait_for(4, 10).await;
    let summary: Vec<(String, String)> = got
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("PUT", "/hooks/create"),
            ("POST", "/hooks/update"),
            ("POST", "/hooks/update"),
            ("DELETE", "/hooks/delete")
        ]
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
    let mut delivery_ids = Vec::new();
    let kinds = [
        WebhookEventKind::Create,
        WebhookEventKind::Update,
        WebhookEventKind::Update,
        WebhookEventKind::Delete,
    ];
    for (r, kind) in got.iter().zip(kinds) {
        let (v, body) = verify(r, &t.key);
        assert_eq!(v.event, Some(kind));
        assert_eq!(v.attempt, Some(1));
        assert_eq!(body.id, id);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
        assert!(
            r.header("token").is_none(),
            "no legacy header unless asked for"
        );
        delivery_ids.push(v.delivery_id.unwrap().to_string());
    }
    let bodies: Vec<WebhookComment> = got
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies[0].comment,
        "Здравей, свят 👋 — see https://example.com/a/b"
    );
    assert_eq!(
        bodies[0].url.as_deref(),
        Some("https://blog.example/post/1?x=1")
    );
    assert!(
        String::from_utf8_lossy(&got[0].body).contains("https://blog.example/post/1?x=1"),
        "slashes unescaped"
    );
    assert_eq!(bodies[1].comment, "edited ✓");
    assert_eq!((bodies[2].votes, bodies[2].votes_up), (1, 1));
    assert_eq!(bodies[3].votes, 1, "delete carries the comment as it was");
    delivery_ids.sort();
    delivery_ids.dedup();
    assert_eq!(delivery_ids.len(), 4);

    // The log: four succeeded deliveries, each with one attempt.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, v) = hub.api(&t.key).deliveries(&format!("commentId={id}")).await;
    let list = v["deliveries"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    assert!(
        list.iter()
            .all(|d| d["status"] == "succeeded" && d["attempts"] == 1),
        "{v}"
    );
    let did = list[0]["id"].as_str().unwrap();
    let (_, v) = hub.api(&t.key).delivery(did).await;
    assert_eq!(v["attempts"][0]["statusCode"], 200);
    assert_eq!(v["attempts"][0]["responseBody"], "ok");
    assert_eq!(v["attempts"][0]["method"], "DELETE");
    let (s, v) = hub.api(&t.key).deliveries("status=sideways").await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
}

#[tokio::test]
async fn retries_follow_the_schedule_and_updates_never_overtake_creates() {
    let base = 150u64;
    let hub = TestHub::for_webhooks(BACKEND, base, 10).await;
    // The create fails three times, then succeeds; everything else succeeds.
    let rx = Receiver::with(|r, earlier| {
        let kind = r.header("x-fastcomments-event").unwrap_or_default();
        let tries = earlier
            .iter()
            .filter(|e| e.header("x-fastcomments-event").as_deref() == Some(kind.as_str()))
            .count();
        if kind == "comment.created" && tries < 3 {
            (500, "down".into())
        } else {
            (200, "ok".into())
        }
    })
    .await;
    let t = tenant_with_hooks(&hub, "Acme", json!({"domain": "acme.example", "create": {"url": rx.url.clone()}, "update": {"url": rx.url.clone()}})).await;
    let c = comment_on(&hub, &t, "acme.example", "first").await;
    let id = c["_id"].as_str().unwrap();
    hub.api(&t.key)
        .update_comment(id, json!({"comment": "second"}))
        .await;
    let got = rx.wait_for(5, 15).await;
    let events: Vec<String> = got
        .iter()
        .map(|r| r.header("x-fastcomments-event").unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "comment.created",
            "comment.created",
            "comment.created",
            "comment.created",
            "comment.updated"
        ]
    );
    let attempts: Vec<String> = got
        .iter()
        .map(|r| r.header("x-fastcomments-attempt").unwrap())
        .collect();
    assert_eq!(attempts, ["1", "2", "3", "4", "1"]);
    for (i, pair) in got[..4].windows(2).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at).as_millis() as u64;
        let expected = base * (i as u64 + 1);
        assert!(
            gap >= expected,
            "retry {} came after {gap} ms, before {expected} ms",
            i + 1
        );
        assert!(
            gap < expected + 1500,
            "retry {} came after {gap} ms, long after {expected} ms",
            i + 1
        );
    }
    // Every attempt is re-signed and verifies; the delivery id is stable across retries.
    let ids: Vec<String> = got[..4]
        .iter()
        .map(|r| verify(r, &t.key).0.delivery_id.unwrap().to_string())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let (_, v) = hub.api(&t.key).delivery(&ids[0]).await;
    let codes: Vec<Value> = items(&v["attempts"])
        .map(|a| a["statusCode"].clone())
        .collect();
    assert_eq!(codes, [json!(500), json!(500), json!(500), json!(200)]);
    assert_eq!(v["attempts"][0]["responseBody"], "down");
    assert_eq!(v["attempts"][0]["error"], "http-500");
}

#[tokio::test]
async fn attempts_run_out_and_long_answers_are_cut_to_4_kib() {
    let hub = TestHub::for_webhooks(BACKEND, 20, 3).await;
    let rx = Receiver::with(|_, _| (503, "x".repeat(5000))).await;
    let t = tenant_creating_to(&hub, "Acme", "acme.example", &rx).await;
    comment_on(&hub, &t, "acme.example", "doomed").await;
    rx.wait_for(3, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.all().len(), 3, "no attempt after the last");
    let (_, v) = hub.api(&t.key).deliveries("status=failed").await;
    let d = &v["deliveries"][0];
    assert_eq!(d["attempts"], 3);
    let (_, v) = hub.api(&t.key).delivery(d["id"].as_str().unwrap()).await;
    assert_eq!(v["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["attempts"][2]["responseBody"].as_str().unwrap().len(),
        4096
    );
}

/// A retry that came due while its attempt's log was still being written goes out at once, not
/// at the dispatcher's next once-a-second look. The hub's clock runs a thousand times fast, so
/// every retry (1 to 9 ms later on the schedule) is due before its record lands: before the
/// fix each of the nine waited for the look (about 9 s in all).
#[tokio::test]
async fn a_retry_due_before_its_record_landed_is_not_left_for_the_next_look() {
    let (hub, clock) = TestHub::with_manual_clock(
        BACKEND,
        common::webhook_config(1, 10),
        1_763_880_000_000,
    )
    .await;
    let fast = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            clock.advance(1_000);
        }
    });
    let rx = Receiver::with(|_, _| (500, "down".into())).await;
    let t = hub.tenant("Acme").await;
    configure(
        &hub,
        &t,
        json!({"domain": "acme.example", "create": {"url": rx.url.clone()}}),
    )
    .await;
    comment_on(&hub, &t, "acme.example", "again").await;
    rx.wait_for(1, 10).await;
    let first = std::time::Instant::now();
    rx.wait_for(10, 20).await;
    let took = first.elapsed();
    assert!(
        took < Duration::from_millis(4_500),
        "nine retries, each due before its record landed, took {took:?}"
    );
    fast.abort();
}

#[tokio::test]
async fn cancel_stops_attempts_and_retry_by_hand_resumes_them() {
    let hub = TestHub::for_webhooks(BACKEND, 400, 50).await;
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = healthy.clone();
    let rx = Receiver::with(move |_, _| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            (200, "ok".into())
        } else {
            (500, "no".into())
        }
    })
    .await;
    let t = tenant_creating_to(&hub, "Acme", "acme.example", &rx).await;
    comment_on(&hub, &t, "acme.example", "c").await;
    rx.wait_for(1, 10).await;
    let (_, v) = hub.api(&t.key).deliveries("").await;
    let id = v["deliveries"][0]["id"].as_str().unwrap().to_owned();
    let (s, v) = hub.api(&t.key).cancel_delivery(&id).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["delivery"]["status"], "cancelled");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        rx.all().len(),
        1,
        "a cancelled delivery is not attempted again"
    );
    let (s, _) = hub.api(&t.key).cancel_delivery(&id).await;
    assert_eq!(s, StatusCode::CONFLICT);

    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let (s, v) = hub.api(&t.key).retry_delivery(&id).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = rx.wait_for(2, 10).await;
    assert_eq!(
        got[1].header("x-fastcomments-attempt").as_deref(),
        Some("2")
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, v) = hub.api(&t.key).delivery(&id).await;
    assert_eq!(v["delivery"]["status"], "succeeded");
    let (s, _) = hub.api(&t.key).retry_delivery(&id).await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a succeeded delivery is not retried"
    );
    let other = hub.tenant("Other").await;
    let (s, _) = hub.api(&other.key).delivery(&id).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn secrets_domains_and_legacy_header() {
    let hub = TestHub::for_webhooks(BACKEND, 20, 3).await;
    let rx = Receiver::ok().await;
    let t = hub.tenant("Acme").await;
    // A domain with its own secret signs with it; the legacy header carries it in clear.
    let (_, v) = hub
        .api(&t.key)
        .create_secret(json!({"domain": "acme.example"}))
        .await;
    let local_secret = v["apiSecret"]["secret"].as_str().unwrap().to_owned();
    configure(&hub, &t, json!({"domain": "acme.example", "create": {"url": rx.url.clone()}, "legacyTokenHeader": true})).await;
    comment_on(&hub, &t, "acme.example", "signed with the domain secret").await;
    let got = rx.wait_for(1, 10).await;
    verify(&got[0], &local_secret);
    assert!(Verifier::new([t.key.as_str()])
        .verify(&got[0].headers, &got[0].body)
        .is_err());
    assert_eq!(
        got[0].header("token").as_deref(),
        Some(local_secret.as_str())
    );

    // No secret for the domain and no wildcard: failed as no-api-secret, nothing sent. The
    // All Domains secret configures `*` and then removes itself (a domain's secret may do
    // neither: issue 20 §4).
    configure(
        &hub,
        &t,
        json!({"domain": "*", "create": {"url": rx.url.clone()}}),
    )
    .await;
    let (_, v) = hub.api(&t.key).secrets().await;
    for s in v["apiSecrets"].as_array().unwrap() {
        if s["domain"] == "*" {
            let (status, _) = hub
                .call(
                    Method::DELETE,
                    &format!("/api/v1/api-secrets/{}", s["id"].as_str().unwrap()),
                    Some(&t.key),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    let t = Tenant {
        id: t.id.clone(),
        key: local_secret.clone(),
    };
    let hub2_rx = rx.all().len();
    comment_on(&hub, &t, "elsewhere.acme.example", "nobody can sign this").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, v) = hub.api(&local_secret).deliveries("status=failed").await;
    assert!(
        items(&v["deliveries"])
            .any(|d| d["lastError"] == "no-api-secret"),
        "{v}"
    );
    assert_eq!(rx.all().len(), hub2_rx);
}

#[tokio::test]
async fn configuration_is_validated() {
    let hub = TestHub::for_webhooks(BACKEND, 20, 3).await;
    let t = hub.tenant("Acme").await;
    for bad in [
        json!({"domain": "acme.example", "create": {"url": "ftp://x"}}),
        json!({"domain": "acme.example", "create": {"url": "http://x", "method": "DELETE"}}),
        json!({"domain": "acme.example", "delete": {"url": "http://x", "method": "PATCH"}}),
        json!({"domain": "not a domain"}),
        json!({"domain": "acme.example", "surprise": 1}),
    ] {
        let (s, v) = hub.api(&t.key).put_webhook_config(bad.clone()).await;
        assert_refused(
            s,
            &v,
            (StatusCode::BAD_REQUEST, "invalid-body"),
            format_args!("{bad}"),
        );
    }
    configure(&hub, &t, json!({"domain": "acme.example", "create": {"url": "http://127.0.0.1:9/c"}, "delete": {"url": "http://127.0.0.1:9/d", "method": "post"}})).await;
    let (_, v) = hub.api(&t.key).webhook_config("domain=acme.example").await;
    assert_eq!(
        v["config"]["create"]["method"], "PUT",
        "create defaults to PUT"
    );
    assert_eq!(v["config"]["delete"]["method"], "POST");
    assert_eq!(v["config"]["update"], Value::Null);
    let (s, _) = hub.api(&t.key).webhook_config("domain=nope.example").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn test_payloads_per_kind() {
    let hub = TestHub::for_webhooks(BACKEND, 20, 3).await;
    let rx = Receiver::ok().await;
    let t = tenant_with_hooks(&hub, "Acme", json!({"domain": "acme.example", "create": {"url": rx.url.clone()}, "delete": {"url": rx.url.clone()}})).await;
    let v = hub.api(&t.key).send_test_ok("create", "acme.example").await;
    assert_eq!(v["ok"], true);
    assert_eq!(v["attempt"]["statusCode"], 200);
    let (_, v) = hub
        .api(&t.key)
        .send_test(json!({"kind": "delete", "domain": "acme.example"}))
        .await;
    assert_eq!(v["attempt"]["method"], "DELETE");
    // Each test is sent twice: genuine, then signed with a wrong secret (this receiver takes both).
    let got = rx.wait_for(4, 5).await;
    verify(&got[0], &t.key);
    assert!(Verifier::new([t.key.as_str()])
        .verify(&got[1].headers, &got[1].body)
        .is_err());
    let delete_body: Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!(
        delete_body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id"]
    );
    Verifier::new([t.key.as_str()])
        .verify(&got[2].headers, &got[2].body)
        .unwrap();
    // A URL given in the call overrides the configuration; failures are reported, not hidden.
    let (s, v) = hub
        .api(&t.key)
        .send_test(
            json!({"kind": "update", "domain": "acme.example", "url": "http://127.0.0.1:9/closed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["ok"], false);
    assert!(
        v["attempt"]["error"]
            .as_str()
            .unwrap()
            .starts_with("connect"),
        "{v}"
    );
    let (s, v) = hub.api(&t.key).send_test(json!({"kind": "upsert"})).await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
}

#[tokio::test]
async fn imports_fire_only_when_turned_on() {
    let hub = TestHub::for_webhooks(BACKEND, 20, 3).await;
    let rx = Receiver::ok().await;
    let t = hub.tenant("Acme").await;
    hub.connect(&t, "importer-token-1", false).await;
    configure(&hub, &t, json!({"domain": "acme.example", "create": {"url": rx.url.clone()}, "update": {"url": rx.url.clone()}})).await;
    let upload = |ext: &'static str| {
        let hub = &hub;
        async move {
            hub.call(
                Method::POST,
                "/integrations/v1/comments?token=importer-token-1",
                None,
                Some(json!({"comments": [{"externalId": ext, "urlId": "p", "comment": "imported", "domain": "acme.example"}]})),
            )
            .await
        }
    };
    upload("a").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.all().is_empty(), "imports fire nothing by default");
    configure(
        &hub,
        &t,
        json!({"domain": "acme.example", "create": {"url": rx.url.clone()}, "fireOnImport": true}),
    )
    .await;
    upload("b").await;
    let got = rx.wait_for(1, 5).await;
    let (_, body) = verify(&got[0], &t.key);
    assert_eq!(body.external_id.as_deref(), Some("b"));
}

/// A receiver in Python built the way the webhook guide builds its example: headers looked up
/// by exact name in the dictionary of names as received (what PHP's `getallheaders()` gives),
/// timestamp within 300 s, HMAC-SHA256 of `timestamp + "." + message`. With `raw` the message is
/// the raw body bytes (SPEC §2.3); with `reserialise` it is the guide's literal
/// `json.dumps(json.loads(body), separators=(',', ':'))`. It prints one line per request.
const PYTHON_RECEIVER: &str = r#"
import hmac, hashlib, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = sys.argv[1].encode()
MODE = sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def handle_one(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        exact = dict(self.headers.items())   # names exactly as they arrived
        timestamp = exact.get('X-FastComments-Timestamp')
        signature = exact.get('X-FastComments-Signature')
        event = exact.get('X-FastComments-Event')
        if not (timestamp and signature and event and exact.get('Content-Type') == 'application/json'):
            verdict = 'BAD names ' + ','.join(exact.keys())
        elif abs(int(time.time()) - int(timestamp)) > 300:
            verdict = 'BAD stale'
        else:
            if MODE == 'raw':
                message = body
            else:
                message = json.dumps(json.loads(body), separators=(',', ':')).encode()
            expected = hmac.new(SECRET, timestamp.encode() + b'.' + message, hashlib.sha256).hexdigest()
            verdict = 'OK' if hmac.compare_digest(signature, 'sha256=' + expected) else 'BAD signature'
        print(verdict + ' ' + event.__str__() + ' ' + body.decode('utf-8'), flush=True)
        self.send_response(200 if verdict == 'OK' else 401)
        self.end_headers()
    do_PUT = do_POST = do_DELETE = handle_one
    def log_message(self, *args):
        pass

server = HTTPServer(('127.0.0.1', 0), Handler)
print('PORT %d' % server.server_address[1], flush=True)
server.serve_forever()
"#;

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// Starts the Python receiver; returns it, its output lines and its URL.
async fn python_receiver(key: &str, mode: &str) -> (tokio::process::Child, Lines, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(PYTHON_RECEIVER)
        .arg(key)
        .arg(mode)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 is needed for this test");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let port: u16 = first.strip_prefix("PORT ").unwrap().parse().unwrap();
    (child, lines, format!("http://127.0.0.1:{port}/hook"))
}

/// A hub with a tenant, Acme, whose `kinds` of change on acme.example go to a new Python
/// receiver in `mode`: the hub, the tenant, the receiver and its output lines.
async fn hooked_python_receiver(
    mode: &str,
    kinds: &[&str],
) -> (TestHub, Tenant, tokio::process::Child, Lines) {
    let hub = TestHub::for_webhooks(BACKEND, 20, 3).await;
    let t = hub.tenant("Acme").await;
    let (child, lines, url) = python_receiver(&t.key, mode).await;
    let mut hooks = json!({"domain": "acme.example"});
    for kind in kinds {
        hooks[*kind] = json!({"url": url});
    }
    configure(&hub, &t, hooks).await;
    (hub, t, child, lines)
}

async fn next_verdict(lines: &mut Lines) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the Python receiver printed nothing")
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_python_receiver_with_the_guides_logic_over_raw_bytes_accepts_our_deliveries() {
    let (hub, t, mut child, mut lines) = hooked_python_receiver("raw", &["create", "update"]).await;
    let c = comment_on(&hub, &t, "acme.example", "plain ASCII text").await;
    let id = c["_id"].as_str().unwrap();
    comment_on(
        &hub,
        &t,
        "acme.example",
        "Кирилица, emoji 🎉 and \"quotes\" / slashes — ½",
    )
    .await;
    hub.api(&t.key)
        .update_comment(id, json!({"comment": "édité, naïve café ✓"}))
        .await;
    let mut verdicts = Vec::new();
    for _ in 0..3 {
        verdicts.push(next_verdict(&mut lines).await);
    }
    assert!(
        verdicts.iter().all(|l| l.starts_with("OK ")),
        "{verdicts:?}"
    );
    assert!(
        verdicts
            .iter()
            .any(|l| l.contains("comment.created") && l.contains("Кирилица, emoji 🎉")),
        "{verdicts:?}"
    );
    assert!(
        verdicts
            .iter()
            .any(|l| l.contains("comment.updated") && l.contains("naïve café ✓")),
        "{verdicts:?}"
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn the_guides_reserialising_python_receiver_accepts_test_payloads_of_every_kind() {
    let (hub, t, mut child, mut lines) =
        hooked_python_receiver("reserialise", &["create", "update", "delete"]).await;
    for kind in ["create", "update", "delete"] {
        let v = hub.api(&t.key).send_test_ok(kind, "acme.example").await;
        assert_eq!(v["ok"], true, "{kind}: {v}");
        assert_eq!(v["forgedAccepted"], false, "{kind}: {v}");
        let genuine = next_verdict(&mut lines).await;
        assert!(genuine.starts_with("OK "), "{genuine}");
        let forged = next_verdict(&mut lines).await;
        assert!(forged.starts_with("BAD signature"), "{forged}");
    }
    // What docs/webhooks.md warns about: the same receiver rejects a real non-ASCII comment.
    comment_on(&hub, &t, "acme.example", "Здравей 👋").await;
    let real = next_verdict(&mut lines).await;
    assert!(real.starts_with("BAD signature"), "{real}");
    let _ = child.kill().await;
}

/// Issue 20 §6: the deliveries list is paged (`limit`, `page`, `skip`), newest first.
#[tokio::test]
async fn the_deliveries_list_is_paged() {
    let hub = TestHub::for_webhooks(BACKEND, 20, 3).await;
    let rx = Receiver::ok().await;
    let t = tenant_creating_to(&hub, "Pages", "*", &rx).await;
    for i in 0..5 {
        comment_on(&hub, &t, "pages.example", &format!("n{i}")).await;
    }
    rx.wait_for(5, 10).await;
    let ids = |v: &Value| -> Vec<String> {
        items(&v["deliveries"])
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (s, all) = hub.api(&t.key).deliveries("").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let all = ids(&all);
    assert_eq!(all.len(), 5);
    let mut paged = Vec::new();
    for page in 0..3 {
        let (_, v) = hub
            .api(&t.key)
            .deliveries(&format!("limit=2&page={page}"))
            .await;
        paged.extend(ids(&v));
    }
    assert_eq!(paged, all, "the pages, in order, are the whole list");
    let (_, v) = hub.api(&t.key).deliveries("limit=2&skip=4").await;
    assert_eq!(ids(&v), all[4..].to_vec());
    let (s, v) = hub.api(&t.key).deliveries("skip=-1").await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-query"), "");
}

/// Comments written one at a time, each sent before the next: about one claim each. A claim
/// that found fewer than a host's share found all that host had, so a slot of that host
/// freeing is no reason to ask again (it was, and every second claim found nothing: 11,965
/// claims for 6,000 deliveries at 200 writes/s in the hanging-receiver bench, each one a
/// write on SQLite's one writer).
#[tokio::test]
async fn a_delivery_at_a_time_costs_about_one_claim() {
    let hub = TestHub::for_webhooks(BACKEND, 50, 5).await;
    let rx = Receiver::ok().await;
    let t = tenant_creating_to(&hub, "Acme", "acme.example", &rx).await;
    let before = hub.running.hub.metrics.webhook_claims.get();
    for n in 0..20 {
        comment_on(&hub, &t, "acme.example", &format!("c{n}")).await;
        rx.wait_for(n + 1, 5).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let claims = hub.running.hub.metrics.webhook_claims.get() - before;
    assert!(
        claims <= 30,
        "{claims} claims for 20 deliveries sent one at a time"
    );
}
