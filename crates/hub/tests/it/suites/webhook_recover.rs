//! Recover (issue 23 §3) over HTTP with real receivers on loopback: a receiver that lost what
//! it had gets every change since a time again, in each comment's order, each with the
//! `webhook-id` it first had; a second recover of the target while one runs is `409`; bad
//! input is a clear 4xx each.

use super::BACKEND;
use crate::common;

use common::receiver::{Received, Receiver};
use common::{assert_refused, Tenant, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

async fn call_ok(hub: &TestHub, t: &Tenant, method: Method, path: &str, body: Option<Value>) -> Value {
    let (s, v) = hub.call(method, path, Some(&t.key), body).await;
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// (comment id, text, kind) of a received webhook.
fn what(r: &Received) -> (String, String, String) {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    (
        body["id"].as_str().unwrap_or_default().to_owned(),
        body["comment"].as_str().unwrap_or_default().to_owned(),
        r.header("x-fastcomments-event").unwrap_or_default(),
    )
}

/// A subscription and the `*` configuration both send to one receiver; after a first comment,
/// time T, then two comments edited in turn. Recovering the subscription since T sends exactly
/// the changes since T again, in each comment's order, each with the `webhook-id` (and
/// `X-FastComments-Delivery`) it first went out with; the API lists them as recovered copies.
/// The configuration's recover sends its own deliveries the same way.
#[tokio::test]
async fn a_receiver_that_lost_everything_gets_every_change_since_t_again() {
    let hub = TestHub::for_webhooks(BACKEND, 50, 5).await;
    let t = hub.tenant_owning("Acme", &["acme.example"]).await;
    let rx = Receiver::ok().await;
    call_ok(&hub, &t, Method::PUT, "/api/v1/webhook-config", Some(json!({"domain": "*", "create": {"url": format!("{}/conf", rx.url)}, "update": {"url": format!("{}/conf", rx.url)}}))).await;
    let (s, sub) = hub.api(&t.key).subscribe(json!({"url": format!("{}/sub", rx.url)})).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let sub_id = sub["webhook"]["id"].as_str().unwrap().to_owned();
    let post = |text: &str| json!({"urlId": "p/1", "commenterName": "Ана", "comment": text, "domain": "acme.example"});
    call_ok(&hub, &t, Method::POST, "/api/v1/comments", Some(post("before"))).await;
    rx.wait_for(2, 10).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let since = now_ms();
    let mut ids = Vec::new();
    for text in ["a0", "b0"] {
        let v = call_ok(&hub, &t, Method::POST, "/api/v1/comments", Some(post(text))).await;
        ids.push(v["comment"]["_id"].as_str().unwrap().to_owned());
    }
    for round in 1..=3 {
        for (id, name) in ids.iter().zip(["a", "b"]) {
            let body = json!({"comment": format!("{name}{round}")});
            call_ok(&hub, &t, Method::PATCH, &format!("/api/v1/comments/{id}"), Some(body)).await;
        }
    }
    // 1 + 8 changes, each to the subscription and to the configuration.
    let first = rx.wait_for(18, 20).await;
    let sent_since: Vec<&Received> = first.iter().filter(|r| r.path == "/sub" && what(r).1 != "before").collect();
    assert_eq!(sent_since.len(), 8);
    let first_ids: HashMap<(String, String, String), String> = sent_since
        .iter()
        .map(|r| (what(r), r.header("webhook-id").unwrap()))
        .collect();

    let (s, v) = hub
        .call(Method::POST, &format!("/api/v1/webhooks/{sub_id}/recover"), Some(&t.key), Some(json!({"since": since})))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["recovery"]["subscriptionId"], json!(sub_id), "{v}");
    let all = rx.wait_for(26, 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again: Vec<Received> = rx.all()[18..].to_vec();
    assert_eq!(again.len(), 8, "only the subscription's changes since T, once each");
    assert!(again.iter().all(|r| r.path == "/sub"));
    for r in &again {
        let w = what(r);
        let id = r.header("webhook-id").unwrap();
        assert_eq!(Some(&id), first_ids.get(&w), "{w:?} keeps its webhook-id");
        let delivery = id.split_once('_').map(|(_, d)| d.to_owned());
        assert_eq!(r.header("x-fastcomments-delivery"), delivery, "{w:?}");
    }
    for (id, name) in ids.iter().zip(["a", "b"]) {
        let texts: Vec<String> = again.iter().map(what).filter(|w| &w.0 == id).map(|w| w.1).collect();
        let wanted: Vec<String> = (0..=3).map(|i| format!("{name}{i}")).collect();
        assert_eq!(texts, wanted, "comment {name}'s changes in order");
    }
    drop(all);
    let listed = call_ok(&hub, &t, Method::GET, "/api/v1/webhook-deliveries?limit=100", None).await;
    let copies: Vec<&Value> = listed["deliveries"].as_array().unwrap().iter().filter(|d| d["recovered"] == true).collect();
    assert_eq!(copies.len(), 8, "{listed}");
    assert!(copies.iter().all(|d| d["recoveredFrom"].is_string() && d["subscriptionId"] == json!(sub_id)));

    // The configuration's own recover: its 8 deliveries since T.
    let (s, v) = hub
        .call(Method::POST, "/api/v1/webhook-config/recover", Some(&t.key), Some(json!({"domain": "*", "since": since})))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let all = rx.wait_for(34, 20).await;
    let conf: Vec<&Received> = all[26..].iter().filter(|r| r.path == "/conf").collect();
    assert_eq!(conf.len(), 8);
}

/// A recover whose copies are still waiting (the receiver is down) makes a second one of the
/// same target `409`; a time in the future, another tenant's subscription, a disabled one, an
/// unknown configuration, malformed JSON and a domain's secret are a clear 4xx each; a flood of
/// bad keys on the route is throttled.
#[tokio::test]
async fn a_second_recover_while_one_runs_and_bad_input_are_refused() {
    let hub = TestHub::for_webhooks(BACKEND, 50, 2).await;
    let t = hub.tenant_owning("Acme", &["acme.example"]).await;
    let other = hub.tenant_owning("Other", &["other.example"]).await;
    let down = Receiver::with(|_, _| (500, "down".into())).await;
    let (_, sub) = hub.api(&t.key).subscribe(json!({"url": down.url})).await;
    let sub_id = sub["webhook"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/webhooks/{sub_id}/recover");
    let since = now_ms() - 1;
    call_ok(&hub, &t, Method::POST, "/api/v1/comments", Some(json!({"urlId": "p", "commenterName": "x", "comment": "y", "domain": "acme.example"}))).await;
    // Two attempts, then failed for good: an ended delivery a recover copies.
    down.wait_for(2, 10).await;
    let mut failed = false;
    for _ in 0..100 {
        let v = call_ok(&hub, &t, Method::GET, "/api/v1/webhook-deliveries?status=failed", None).await;
        if v["deliveries"].as_array().is_some_and(|d| !d.is_empty()) {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed);
    let (s, v) = hub.call(Method::POST, &path, Some(&t.key), Some(json!({"since": since}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // Its copy waits (the receiver is still down): the target's recover runs.
    down.wait_for(3, 10).await;
    let (s, v) = hub.call(Method::POST, &path, Some(&t.key), Some(json!({"since": since}))).await;
    assert_refused(s, &v, (StatusCode::CONFLICT, "conflict"), "");

    let future = now_ms() + 60_000;
    let (s, v) = hub.call(Method::POST, &path, Some(&t.key), Some(json!({"since": future}))).await;
    assert_refused(s, &v, (StatusCode::BAD_REQUEST, "invalid-body"), "");
    let (s, v) = hub.call(Method::POST, &path, Some(&other.key), Some(json!({"since": since}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another tenant's subscription: {v}");
    let (s, v) = hub
        .call(Method::POST, "/api/v1/webhook-config/recover", Some(&t.key), Some(json!({"domain": "acme.example", "since": since})))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no configuration for the domain: {v}");
    let (narrow, _) = hub.api(&t.key).create_secret_for("acme.example").await;
    let (s, v) = hub.call(Method::POST, &path, Some(&narrow), Some(json!({"since": since}))).await;
    assert_refused(s, &v, (StatusCode::FORBIDDEN, "all-domains-secret-required"), "");
    let (s, v) = hub.call(Method::POST, &path, Some(&t.key), Some(json!({"since": "yesterday"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let raw = reqwest::Client::new()
        .post(format!("{}{path}", hub.base))
        .header("x-api-key", &t.key)
        .header("content-type", "application/json")
        .body("{\"since\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    call_ok(&hub, &t, Method::POST, &format!("/api/v1/webhooks/{sub_id}/disable"), None).await;
    let (s, v) = hub.call(Method::POST, &path, Some(&t.key), Some(json!({"since": since}))).await;
    assert_refused(s, &v, (StatusCode::CONFLICT, "conflict"), "a disabled subscription");
    assert!(v["reason"].as_str().unwrap_or_default().contains("disabled"), "{v}");

    // Every refused key costs its address; a flood is answered 429 before the key is read.
    let mut limited = false;
    for _ in 0..100 {
        let (s, _) = hub.call(Method::POST, &path, Some("not-a-key"), Some(json!({"since": since}))).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    assert!(limited, "a flood of bad keys on the recover route is throttled");
}

/// A plugin's upload numbers its changes ahead of the clock (a batch takes as many positions
/// at once, from now on), so right after a large upload the tenant's latest changes have
/// positions past the present. A recover started then sends them all again: it ends at the
/// tenant's latest change, not at the clock's reading (which left out all but the first).
#[tokio::test]
async fn a_recover_right_after_an_upload_sends_every_uploaded_change() {
    let start = now_ms();
    let (hub, _clock) = TestHub::with_manual_clock(BACKEND, common::webhook_config(50, 5), start).await;
    let t = hub.tenant_owning("Acme", &["acme.example"]).await;
    let rx = Receiver::ok().await;
    let config = json!({"domain": "*", "create": {"url": rx.url}, "fireOnImport": true});
    call_ok(&hub, &t, Method::PUT, "/api/v1/webhook-config", Some(config)).await;
    hub.connect(&t, "upload-token", false).await;
    let comments: Vec<Value> = (0..100)
        .map(|i| json!({"externalId": i, "urlId": "post-1", "comment": format!("c{i}"), "commenterName": "W"}))
        .collect();
    let (s, v) = hub
        .upload("upload-token", json!({"start": 0, "hasMore": false, "countRemaining": 0, "comments": comments}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    rx.wait_for(100, 20).await;

    let (s, v) = hub
        .call(Method::POST, "/api/v1/webhook-config/recover", Some(&t.key), Some(json!({"domain": "*", "since": start})))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // Ends at the last uploaded change (99 ms past the clock's reading), not at the clock's.
    assert_ne!(v["recovery"]["until"], v["recovery"]["startedAt"], "{v}");
    let all = rx.wait_for(200, 20).await;
    let again: Vec<String> = all[100..].iter().map(|r| what(r).1).collect();
    let mut sorted = again.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 100, "each uploaded comment once: {again:?}");
}
