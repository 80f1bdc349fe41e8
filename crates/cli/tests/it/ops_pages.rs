//! The hub's own pages over loopback: the front page, liveness and readiness.

use fastcomments_hub::store::sqlite::SqliteStore;
use fastcomments_hub::{HubConfig, RunningHub};
use std::sync::Arc;

/// A hub on a fresh SQLite file; the store is returned too, so a test can close it.
async fn start() -> (tempfile::TempDir, Arc<SqliteStore>, RunningHub) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("hub.db")).await.unwrap());
    let running = RunningHub::bind(
        "127.0.0.1:0",
        store.clone(),
        HubConfig::default(),
        std::future::pending(),
    )
    .await
    .unwrap();
    (dir, store, running)
}

#[tokio::test]
async fn the_front_page_names_the_hub_its_version_and_where_to_go() {
    let (_dir, _store, hub) = start().await;
    let res = reqwest::get(format!("{}/", hub.url())).await.unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("FastComments hub"), "{html}");
    assert!(
        html.contains(&format!("Version {}", env!("CARGO_PKG_VERSION"))),
        "{html}"
    );
    for href in [
        "/auth/my-account/integrations/v1/setup",
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/admin",
    ] {
        assert!(html.contains(&format!("href=\"{href}\"")), "{href}: {html}");
    }
    // Readable on a phone, and nothing fetched from another site.
    assert!(html.contains("name=\"viewport\""), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );

    // Every other path is still the JSON 404.
    let res = reqwest::get(format!("{}/no-such-page", hub.url()))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["code"], "not-found");
    hub.shutdown().await.unwrap();
}

/// Liveness never touches the store; readiness asks it, and a store that cannot answer
/// (closed here: its connection pools are shut) makes the hub not ready, with the reason.
#[tokio::test]
async fn healthz_needs_no_store_and_readyz_reports_a_closed_store() {
    let (_dir, store, hub) = start().await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", hub.url())).send();

    for path in ["/healthz", "/readyz"] {
        let res = get(path).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "success", "{path}");
    }

    store.close().await;

    let res = get("/readyz").await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["code"], "store-unavailable");
    assert!(body["reason"].as_str().unwrap().contains("store"), "{body}");

    // The process still serves: alive, though not ready.
    let res = get("/healthz").await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "success");
    hub.shutdown().await.unwrap();
}
