//! How many exports run at once (issue 24 §2 with a valid key): a tenant's exports past its
//! limit are `429 rate-limited` with `Retry-After` while the others stream, a place frees when
//! one ends (its client gone), and another tenant is not held back by the first's.

use super::BACKEND;
use crate::common::{code, TestHub};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpStream;

/// Exports of one tenant at once (`hub::export_slots::PER_TENANT`).
const PER_TENANT: usize = 2;

/// 400 comments of about 60 kB each (text and HTML): an export of some 24 MB, more than the
/// socket buffers of a client that does not read take, so its export stays open.
fn large_file() -> String {
    (0..400)
        .map(|i| {
            let line = json!({
                "externalId": format!("big-{i}"),
                "urlId": "big",
                "commenterName": "Ana",
                "comment": format!("{i} {}", "0123456789".repeat(3000)),
            });
            format!("{line}\n")
        })
        .collect()
}

/// An export of the holder of `key` by a client that reads its answer's head and then nothing:
/// the status, and the connection that holds it open.
async fn slow_export(hub: &TestHub, key: &str) -> (u16, TcpStream) {
    let addr = hub.base.trim_start_matches("http://");
    testkit::slow_reader::get_head_only(addr, "/api/v1/export", &[("x-api-key", key)])
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tenants_exports_at_once_are_limited_and_a_place_frees_when_one_ends() {
    let hub = TestHub::start(BACKEND).await;
    let a = hub.tenant("Alpha").await;
    let b = hub.tenant("Beta").await;
    let done = hub.api(&a.key).run_import("format=jsonl", &large_file()).await;
    assert_eq!((&done["state"], &done["created"]), (&json!("done"), &json!(400)), "{done}");
    let small = json!({"externalId": "b1", "urlId": "t", "comment": "hello"});
    let done = hub.api(&b.key).run_import("format=jsonl", &format!("{small}\n")).await;
    assert_eq!(done["created"], 1, "{done}");

    let mut held = Vec::new();
    for _ in 0..PER_TENANT {
        let (status, tcp) = slow_export(&hub, &a.key).await;
        assert_eq!(status, 200);
        held.push(tcp);
    }
    // One more of the same tenant, in either format: refused, with when to try again.
    for query in ["", "?format=wxr"] {
        let res = hub
            .client
            .get(format!("{}/api/v1/export{query}", hub.base))
            .header("x-api-key", &a.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1, "{retry}");
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(code(&v), "rate-limited", "{v}");
        assert!(v["reason"].as_str().unwrap().contains("exports"), "{v}");
    }
    // Another tenant exports meanwhile.
    let (s, _, text) = hub.api(&b.key).export("").await;
    assert_eq!((s, text.lines().count()), (StatusCode::OK, 1));

    // One client goes away: its place frees once the hub sees it gone.
    drop(held.pop());
    let mut accepted = None;
    for _ in 0..200 {
        let (s, _, text) = hub.api(&a.key).export("").await;
        if s == StatusCode::OK {
            accepted = Some(text);
            break;
        }
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = accepted.expect("no place freed after a client went away");
    assert_eq!(text.lines().count(), 400);
    // That export ended whole: its place is free again as well.
    let (status, _still) = slow_export(&hub, &a.key).await;
    assert_eq!(status, 200);
}
