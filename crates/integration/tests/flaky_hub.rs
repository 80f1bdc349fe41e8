//! The client against a misbehaving hub (a fake on loopback): 5xx, 429 with Retry-After,
//! non-JSON bodies and a hung response are retried with backoff, and no failure moves the
//! saved state. Query values arrive URL-decoded exactly as given.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use fastcomments_integration::{
    Config, Error, Integration, MemorySink, MemorySource, MemoryStateStore, Phase, RetryPolicy,
    StateStore,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Fake {
    /// Answer `401 unknown-token` to this many stream calls first (a hub that lost the token).
    forget: AtomicUsize,
    stream_calls: AtomicUsize,
    /// How many stream calls misbehave before a good answer.
    failures: usize,
    queries: Mutex<Vec<HashMap<String, String>>>,
}

fn comment(id: &str) -> serde_json::Value {
    json!({"_id": id, "tenantId": "t1", "urlId": "p", "commenterName": "Ana",
           "comment": "hi ✓", "commentHTML": "hi ✓", "date": "2025-01-01T00:00:00.000Z",
           "votes": 0, "votesUp": 0, "votesDown": 0, "approved": true})
}

async fn token(State(f): State<Arc<Fake>>, Query(q): Query<HashMap<String, String>>) -> Response {
    f.queries.lock().unwrap().push(q);
    axum::Json(json!({"status": "success", "isTokenValidated": true, "tenantId": "t1"}))
        .into_response()
}

async fn stream(State(f): State<Arc<Fake>>, Query(q): Query<HashMap<String, String>>) -> Response {
    if f.forget
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"status":"failed","code":"unknown-token","reason":"who?"}"#,
        )
            .into_response();
    }
    let n = f.stream_calls.fetch_add(1, Ordering::SeqCst);
    if n < f.failures {
        return match n % 5 {
            0 => (StatusCode::SERVICE_UNAVAILABLE, "upstream down").into_response(),
            1 => {
                let mut h = HeaderMap::new();
                h.insert("retry-after", "0".parse().unwrap());
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    h,
                    r#"{"status":"failed","code":"rate-limited","reason":"slow down"}"#,
                )
                    .into_response()
            }
            2 => (StatusCode::OK, "<html>captive portal</html>").into_response(),
            3 => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (StatusCode::OK, "{}").into_response()
            }
            _ => (
                StatusCode::OK,
                r#"{"status":"success","commands":[],"events":[{"#,
            )
                .into_response(),
        };
    }
    let cursor: i64 = q
        .get("lastFetchDate")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let events = if cursor < 1_000 {
        json!([{"id": "e1", "createdAt": 1_000, "type": "new-comment", "urlId": "p", "comment": comment("c1")}])
    } else {
        json!([])
    };
    axum::Json(
        json!({"status": "success", "commands": [], "events": events,
                      "hasMore": false, "nextFetchDate": 1_000}),
    )
    .into_response()
}

async fn start(fake: Arc<Fake>) -> String {
    let app = Router::new()
        .route("/integrations/v1/token", put(token))
        .route("/integrations/v1/stream", get(stream))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn config(base: String, attempts: u32) -> Config {
    let mut c = Config::new(base);
    c.domain = Some("https://blog.example/path?a=1&b=ü ö".into());
    c.integration_type = Some("word press".into());
    c.retry = RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        request_timeout: Duration::from_millis(300),
    };
    c
}

/// Serves a fake hub whose first `failures` stream calls misbehave, and makes an integration
/// against it that tries a request `attempts` times.
async fn integration(
    failures: usize,
    attempts: u32,
) -> (
    Arc<Fake>,
    Integration,
    Arc<MemoryStateStore>,
    Arc<MemorySink>,
) {
    let fake = Arc::new(Fake {
        failures,
        ..Fake::default()
    });
    let base = start(fake.clone()).await;
    let store = Arc::new(MemoryStateStore::new());
    let sink = Arc::new(MemorySink::new());
    let i = Integration::new(
        config(base, attempts),
        store.clone(),
        Arc::new(MemorySource::new(Vec::new())),
        sink.clone(),
    )
    .await
    .unwrap();
    (fake, i, store, sink)
}

#[tokio::test]
async fn every_kind_of_failure_is_retried_then_the_page_applies() {
    let (fake, mut i, store, sink) = integration(5, 8).await;
    let outcome = i.tick().await.unwrap();
    assert_eq!(outcome.events_applied, 1);
    assert_eq!(fake.stream_calls.load(Ordering::SeqCst), 6);
    assert_eq!(store.snapshot().unwrap().cursor, 1_000);
    assert_eq!(sink.comments()[0].comment, "hi ✓");
    // Query values arrive decoded exactly as configured.
    let q = fake.queries.lock().unwrap()[0].clone();
    assert_eq!(q["domain"], "https://blog.example/path?a=1&b=ü ö");
    assert_eq!(q["integrationType"], "word press");
    assert_eq!(Some(&q["token"]), store.snapshot().unwrap().token.as_ref());
}

#[tokio::test]
async fn giving_up_leaves_the_saved_state_as_it_was() {
    let (_, mut i, store, sink) = integration(100, 3).await;
    let before = store.load().await.unwrap();
    let err = i.tick().await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 3, .. }),
        "{err}"
    );
    assert!(!err.is_fatal());
    let after = store.snapshot().unwrap();
    // Only step 1 and 2 moved: the token and tenant, no cursor, nothing applied.
    assert!(before.is_none());
    assert_eq!(after.cursor, 0);
    assert_eq!(after.tenant_id.as_deref(), Some("t1"));
    assert!(sink.applied().is_empty());
    assert_eq!(i.phase(), Phase::Syncing);
}

#[tokio::test]
async fn a_hub_that_forgot_the_token_gets_it_registered_again_from_the_start() {
    let (fake, mut i, store, sink) = integration(0, 3).await;
    assert_eq!(i.tick().await.unwrap().events_applied, 1);
    assert_eq!(store.snapshot().unwrap().cursor, 1_000);
    fake.forget.store(1, Ordering::SeqCst);
    i.tick().await.unwrap();
    // Registered again (the fake acknowledges at once) and the cursor starts over.
    assert_eq!(fake.queries.lock().unwrap().len(), 2);
    let saved = store.snapshot().unwrap();
    assert_eq!(saved.cursor, 0);
    assert_eq!(saved.tenant_id.as_deref(), Some("t1"));
    assert_eq!(i.tick().await.unwrap().events_applied, 1);
    assert_eq!(
        sink.comments().len(),
        1,
        "the replayed event is applied idempotently"
    );
}
