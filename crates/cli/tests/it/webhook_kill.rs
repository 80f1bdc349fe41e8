//! A hub process killed (SIGKILL, no graceful stop) with 1,000 queued webhook deliveries
//! delivers every one of them after it is started again on the same data directory.

use crate::serve_support;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::Router;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const ADMIN: &str = "kill-test-admin";
const COMMENTS: usize = 1000;

async fn start_hub(data_dir: &std::path::Path) -> (Child, String) {
    let (child, url) = serve_support::spawn_hub(
        Command::new(env!("CARGO_BIN_EXE_fastcomments"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args([
                "--webhook-retry-base-ms",
                "50",
                "--webhook-concurrency",
                "32",
                // One receiver takes all 32 slots here.
                "--webhook-per-host-concurrency",
                "32",
                // The receiver is on loopback.
                "--webhook-allow-private-targets",
            ]),
        ADMIN,
        "warn",
    )
    .await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

#[tokio::test]
async fn killed_hub_delivers_every_queued_webhook_after_restart() {
    // A receiver that holds every request until released, then answers 200 at once.
    let released = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (r, h, s) = (released.clone(), held.clone(), seen.clone());
    let app = Router::new().fallback(move |headers: HeaderMap, _body: Bytes| {
        let (released, held, seen) = (r.clone(), h.clone(), s.clone());
        async move {
            if !released.load(Ordering::SeqCst) {
                held.fetch_add(1, Ordering::SeqCst);
                while !released.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                // A request held across the kill: its hub is gone, do not count it.
                return "late";
            }
            if let Some(id) = headers
                .get("x-fastcomments-delivery")
                .and_then(|v| v.to_str().ok())
            {
                seen.lock().insert(id.to_owned());
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir().unwrap();
    let (mut hub, base) = start_hub(dir.path()).await;
    let client = reqwest::Client::new();
    let key =
        serve_support::create_tenant(&client, &base, ADMIN, "Kill test", &["localhost"]).await;
    let res = client
        .put(format!("{base}/api/v1/webhook-config"))
        .header("x-api-key", &key)
        .json(&json!({"domain": "localhost", "create": {"url": receiver}}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    for i in 0..COMMENTS {
        let res = client
            .post(format!("{base}/api/v1/comments"))
            .header("x-api-key", &key)
            .json(&json!({"urlId": format!("t{}", i % 10), "commenterName": "n", "comment": format!("c{i} ✓"), "domain": "localhost"}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while held.load(Ordering::SeqCst) < 32 {
        assert!(
            Instant::now() < deadline,
            "the dispatcher never reached the receiver"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pending = deliveries(&client, &base, &key, "limit=1000").await;
    assert_eq!(pending.len(), COMMENTS);
    // All still pending when the hub dies: queued, or retrying where a held request timed out.
    assert!(
        pending
            .iter()
            .all(|d| d["status"] == "queued" || d["status"] == "retrying"),
        "all pending when the hub dies"
    );
    let all_ids: HashSet<String> = pending
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();

    hub.kill().await.unwrap(); // SIGKILL: no graceful shutdown.
    released.store(true, Ordering::SeqCst);
    let (_hub, base) = start_hub(dir.path()).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = seen.lock().len();
        if n >= COMMENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} of {COMMENTS} deliveries arrived after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *seen.lock(),
        all_ids,
        "exactly the queued deliveries, none lost"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let succeeded = deliveries(&client, &base, &key, "status=succeeded&limit=1000").await;
    assert_eq!(succeeded.len(), COMMENTS);
}

/// The tenant's webhook deliveries as `GET /api/v1/webhook-deliveries?query` lists them.
async fn deliveries(client: &reqwest::Client, base: &str, key: &str, query: &str) -> Vec<Value> {
    let list = client
        .get(format!("{base}/api/v1/webhook-deliveries?{query}"))
        .header("x-api-key", key);
    let v = serve_support::json_answer(list).await;
    v["deliveries"].as_array().unwrap().clone()
}
