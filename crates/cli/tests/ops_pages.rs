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
