//! Issue 10 §4: the bytes a receiver gets name every header exactly as SPEC §2.1 spells them
//! (the guide's PHP receiver looks them up case-sensitively), over kept-alive connections; test
//! payloads are ASCII and come with a forged twin that tells whether the receiver verifies.

use super::BACKEND;
use crate::common;

use common::raw_receiver::{RawReceiver, RawRequest, Reply};
use common::{items, Tenant, TestHub};
use fastcomments_hub::HubConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const EXACT_NAMES: [&str; 7] = [
    "Content-Type",
    "X-FastComments-Timestamp",
    "X-FastComments-Signature",
    "X-FastComments-Event",
    "X-FastComments-Delivery",
    "X-FastComments-Attempt",
    "token",
];

async fn hub() -> TestHub {
    TestHub::configured(
        BACKEND,
        HubConfig {
            webhook_retry_base: Duration::from_secs(60),
            webhook_allow_private_targets: true, // the receivers are on loopback
            ..common::admin_config()
        },
    )
    .await
}

async fn configure(hub: &TestHub, t: &Tenant, url: &str) {
    let (s, v) = hub
        .api(&t.key)
        .put_webhook_config(json!({"domain": "acme.example", "legacyTokenHeader": true,
                        "create": {"url": url}, "update": {"url": url}, "delete": {"url": url}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Verifies the request over its raw header pairs and raw body, as a receiver would.
fn verifies(r: &RawRequest, key: &str) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let pairs: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    fastcomments_webhooks::verify(&pairs, &r.body, &[key], now, 300).is_ok()
}

fn assert_exact_names(r: &RawRequest) {
    for name in EXACT_NAMES {
        assert!(
            r.exact(name).is_some(),
            "{name} not sent with that spelling; names as sent: {:?}",
            r.names()
        );
    }
    assert_eq!(r.exact("Content-Type"), Some("application/json"));
}

#[tokio::test]
async fn deliveries_spell_every_header_as_documented_over_one_kept_alive_connection() {
    let hub = hub().await;
    let t = hub.tenant("Acme").await;
    let rx = RawReceiver::ok().await;
    configure(&hub, &t, &format!("{}/hook", rx.url)).await;
    let c = hub.comment_on(&t, "acme.example", "Здравей 👋").await;
    let id = c["_id"].as_str().unwrap();
    rx.wait_for(1, 10).await;
    for i in 0..9 {
        hub.api(&t.key)
            .update_comment(id, json!({"comment": format!("edit {i}")}))
            .await;
        rx.wait_for(i + 2, 10).await;
    }
    let got = rx.wait_for(10, 10).await;
    for r in &got {
        assert_exact_names(r);
        assert!(verifies(r, &t.key), "{r:?}");
        assert_eq!(r.exact("token"), Some(t.key.as_str()));
        assert_eq!(r.exact("X-FastComments-Attempt"), Some("1"));
    }
    assert_eq!(
        got[0].exact("X-FastComments-Event"),
        Some("comment.created")
    );
    assert_eq!(
        got[1].exact("X-FastComments-Event"),
        Some("comment.updated")
    );
    assert_eq!(got[0].method, "PUT");
    assert_eq!(got[0].path, "/hook");
    assert_eq!(
        *rx.connections.lock(),
        1,
        "ten deliveries one after another share one kept-alive connection"
    );
}

#[tokio::test]
async fn test_payloads_are_ascii_spelt_as_documented_and_report_a_verifying_receiver() {
    let hub = hub().await;
    let t = hub.tenant("Acme").await;
    let key = t.key.clone();
    // Verifies like a correct receiver: 401 for a bad signature.
    let rx = RawReceiver::start(move |r| {
        if verifies(r, &key) {
            Reply::Status(200)
        } else {
            Reply::Status(401)
        }
    })
    .await;
    configure(&hub, &t, &rx.url).await;
    for kind in ["create", "update", "delete"] {
        let v = hub.api(&t.key).send_test_ok(kind, "acme.example").await;
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["forgedAccepted"], false, "{v}");
        assert_eq!(v["forged"]["refused"], true, "{v}");
        assert_eq!(v["forged"]["attempt"]["statusCode"], 401, "{v}");
        assert!(v.get("warning").is_none(), "{v}");
    }
    let got = rx.wait_for(6, 10).await;
    for pair in got.chunks(2) {
        let (genuine, forged) = (&pair[0], &pair[1]);
        assert_exact_names(genuine);
        assert_exact_names(forged);
        assert!(verifies(genuine, &t.key));
        assert!(!verifies(forged, &t.key));
        assert_eq!(
            genuine.body, forged.body,
            "the same payload, another signature"
        );
        assert_ne!(
            forged.exact("token"),
            Some(t.key.as_str()),
            "the forged request does not carry the real secret"
        );
        assert_ne!(
            genuine.exact("X-FastComments-Delivery"),
            forged.exact("X-FastComments-Delivery")
        );
        assert!(
            genuine.body.is_ascii(),
            "{}",
            String::from_utf8_lossy(&genuine.body)
        );
    }
    let create: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(create["domain"], "acme.example");
    assert!(create["comment"].as_str().unwrap().contains("test payload"));
}

#[tokio::test]
async fn a_receiver_that_accepts_a_forged_test_payload_is_told_so() {
    let hub = hub().await;
    let t = hub.tenant("Acme").await;
    let rx = RawReceiver::ok().await;
    let v = hub.api(&t.key).send_test_to(&rx.url).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["forgedAccepted"], true, "{v}");
    assert_eq!(v["forged"]["refused"], false, "{v}");
    assert!(
        v["warning"].as_str().unwrap().contains("wrong secret"),
        "{v}"
    );
    assert_eq!(rx.all().len(), 2);

    // A receiver that refuses the genuine request gets no forged one: it would prove nothing.
    let down = RawReceiver::start(|_| Reply::Status(500)).await;
    let (_, v) = hub
        .api(&t.key)
        .send_test(json!({"kind": "create", "url": down.url}))
        .await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["forged"], Value::Null, "{v}");
    assert_eq!(v["forgedAccepted"], Value::Null, "{v}");
    assert_eq!(down.all().len(), 1);
}

/// A test payload reports the headers exactly as they went on the wire (names, order, values),
/// and is sent with the method asked for when the kind allows it (a form tests before saving).
#[tokio::test]
async fn a_test_payload_reports_its_headers_as_sent_and_takes_a_method() {
    let hub = hub().await;
    let t = hub.tenant("Acme").await;
    let rx = RawReceiver::start(|_| Reply::Status(401)).await;
    let (s, v) = hub
        .api(&t.key)
        .send_test(
            json!({"kind": "update", "url": rx.url, "method": "post", "legacyTokenHeader": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = rx.all();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    let reported: Vec<(String, String)> = items(&v["headers"])
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Every reported header arrived with that name and value, in that order; the wire adds
    // only what the HTTP layer writes (host, length) and the secret is not in the report.
    let on_wire: Vec<&(String, String)> = got[0]
        .headers
        .iter()
        .filter(|(n, _)| !["host", "content-length"].contains(&n.to_ascii_lowercase().as_str()))
        .collect();
    assert_eq!(on_wire.len(), reported.len(), "{on_wire:?} vs {reported:?}");
    for ((wn, wv), (rn, rv)) in on_wire.iter().zip(&reported) {
        assert_eq!(wn, rn);
        if wn == "token" {
            assert_eq!(wv, &t.key);
            assert!(!rv.contains(&t.key), "the secret is not reported");
        } else {
            assert_eq!(wv, rv, "{wn}");
        }
    }
    assert!(reported.iter().any(|(n, _)| n == "webhook-signature"));

    for (kind, method) in [("create", "DELETE"), ("update", "GET"), ("delete", "PATCH")] {
        let (s, v) = hub
            .api(&t.key)
            .send_test(json!({"kind": kind, "url": rx.url, "method": method}))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid-body")),
            "{kind} {method}: {v}"
        );
    }
    assert_eq!(rx.all().len(), 1, "refused tests send nothing");
    // A refused target is never contacted: nothing to report.
    let (_, v) = hub
        .api(&t.key)
        .send_test(json!({"kind": "create", "url": "ftp://nowhere"}))
        .await;
    assert_eq!(v["headers"], json!([]), "{v}");
}
