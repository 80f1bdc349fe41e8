//! `fastcomments webhooks listen` verifies what it receives and says so.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

async fn next(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn listen_prints_kind_comment_and_verdict() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args([
            "webhooks",
            "listen",
            "--port",
            "0",
            "--secret",
            "old-secret",
            "--secret",
            "s3cr3t",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = next(&mut lines).await;
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();

    let body = r#"{"id":"c1","urlId":"p","commenterName":"Ана","comment":"hi 👋"}"#.as_bytes();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sig = fastcomments_webhooks::sign(b"s3cr3t", now, body);
    let client = reqwest::Client::new();
    let res = client
        .put(&url)
        .header("X-FastComments-Timestamp", sig.timestamp_header())
        .header("X-FastComments-Signature", sig.signature_header())
        .header("X-FastComments-Event", "comment.created")
        .header("X-FastComments-Delivery", "d-1")
        .header("X-FastComments-Attempt", "2")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line = next(&mut lines).await;
    assert!(
        line.contains("kind=comment.created")
            && line.contains("comment=c1")
            && line.contains("verdict=valid"),
        "{line}"
    );
    assert!(
        line.contains("delivery=d-1") && line.contains("attempt=2"),
        "{line}"
    );

    let res = client
        .delete(&url)
        .header("X-FastComments-Timestamp", sig.timestamp_header())
        .header("X-FastComments-Signature", sig.signature_header())
        .body(br#"{"id":"c1","tampered":true}"#.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let line = next(&mut lines).await;
    assert!(line.contains("verdict=rejected"), "{line}");
    assert!(
        !line.contains(sig.hex()),
        "never leaks the expected signature"
    );
}
