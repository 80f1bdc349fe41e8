//! Hub bugs found while building the integration client. Each test failed before its fix and
//! now guards against the bug coming back.

use crate::sync_support;

use fastcomments_hub::HubConfig;
use serde_json::json;
use std::time::Duration;
use sync_support::TestHub;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `POST /integrations/v1/comments` answers 413 by saving a *copy of the token record taken
/// when the request started* with a halved batch size (`api/integration.rs`, `upload`). An
/// upload of the same token that committed meanwhile is undone: `upload_received` goes back,
/// and so would `upload_finished` / `setup_completed_at`. A client that pipelines batches
/// (as SPEC's "split only that batch" invites) hits this whenever one batch is too large.
#[tokio::test]
async fn a_413_does_not_undo_a_concurrent_upload() {
    let hub = TestHub::start(HubConfig {
        upload_limit_bytes: 4096,
        ..HubConfig::default()
    })
    .await;
    let token = "bug-413-race-token";
    hub.upload_as_other_site(token, &[]).await; // registers and acknowledges
    let addr = hub.base.trim_start_matches("http://").to_owned();

    // 1. An oversized upload starts: headers and a first part of the body.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /integrations/v1/comments?token={token} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&[b' '; 1000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // 2. Meanwhile a normal batch of 3 comments is accepted.
    let res = hub
        .http
        .post(format!(
            "{}/integrations/v1/comments?token={token}",
            hub.base
        ))
        .json(&json!({"countRemaining": 5, "comments": [
            {"externalId": "a", "urlId": "p", "comment": "a"},
            {"externalId": "b", "urlId": "p", "comment": "b"},
            {"externalId": "c", "urlId": "p", "comment": "c"}]}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert!(
        status.is_success(),
        "{status} {}",
        res.text().await.unwrap()
    );
    let received = |v: Vec<serde_json::Value>| {
        v.iter().find(|i| i["token"] == token).unwrap()["commentsReceived"].clone()
    };
    assert_eq!(received(hub.integrations().await), 3);

    // 3. The oversized body goes over the limit: 413.
    let _ = slow.write_all(&[b' '; 9000]).await;
    let mut answer = vec![0u8; 512];
    let n = slow.read(&mut answer).await.unwrap_or(0);
    assert!(String::from_utf8_lossy(&answer[..n]).contains("413"));
    tokio::time::sleep(Duration::from_millis(50)).await;

    // The accepted batch must still count.
    assert_eq!(
        received(hub.integrations().await),
        3,
        "the 413 undid a committed upload"
    );
}
