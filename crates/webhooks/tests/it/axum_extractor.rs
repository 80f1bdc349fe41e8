//! The axum extractors behind a real server on 127.0.0.1 (port chosen by the OS), called by a
//! real HTTP client (reqwest).

use crate::support;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{delete, post, put};
use axum::{Json, Router};
use fastcomments_webhooks::{
    sign, CommentOrId, MemoryReplayStore, MessageId, StandardSigner, VerifiedBody, VerifiedWebhook,
    Verifier, WebhookEventKind,
};
use serde_json::{json, Value};
use support::{bulgarian_comment, SECRET, TS};

/// An application state holding more than the verifier, as a real receiver's would.
#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    #[allow(dead_code)]
    name: &'static str,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Verifier {
        state.verifier.clone()
    }
}

async fn on_comment(hook: VerifiedWebhook) -> Json<Value> {
    Json(json!({
        "status": "success",
        "id": hook.payload.id,
        "commenterName": hook.payload.commenter_name,
        "event": hook.event().map(WebhookEventKind::header_value),
        "delivery": hook.delivery_id(),
        "attempt": hook.verified.attempt,
        "bytes": hook.body.len(),
        "signedEvent": hook.verified.signed_event().map(WebhookEventKind::header_value),
    }))
}

async fn on_delete(hook: VerifiedWebhook<CommentOrId>) -> Json<Value> {
    let full = matches!(hook.payload, CommentOrId::Comment(_));
    Json(json!({"status": "success", "id": hook.payload.id(), "full": full}))
}

async fn on_raw(hook: VerifiedBody) -> Vec<u8> {
    hook.body.to_vec()
}

async fn on_value(hook: VerifiedWebhook<Value>) -> Json<Value> {
    Json(hook.payload)
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/hooks/comment", put(on_comment).post(on_comment))
        .route("/hooks/delete", delete(on_delete).post(on_delete))
        .route("/hooks/raw", post(on_raw))
        .route("/hooks/value", post(on_value))
        .with_state(AppState {
            verifier,
            name: "test",
        })
}

/// Serves `app` on 127.0.0.1, port 0, and returns its base URL.
/// The default app, served: a client, and the URL of `path` on it.
async fn served(path: &str) -> (reqwest::Client, String) {
    let base = serve(app(verifier())).await;
    (reqwest::Client::new(), format!("{base}{path}"))
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn verifier() -> Verifier {
    Verifier::new(["some other secret", "secret"]).with_clock(|| TS)
}

/// A request as the hub sends it: signed at `ts` with `secret`, with the extension headers.
fn hub_request(
    req: reqwest::RequestBuilder,
    secret: &[u8],
    ts: i64,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let sig = sign(secret, ts, body);
    req.header("Content-Type", "application/json")
        .header("X-FastComments-Timestamp", sig.timestamp_header())
        .header("X-FastComments-Signature", sig.signature_header())
        .header("X-FastComments-Event", "comment.created")
        .header("X-FastComments-Delivery", "dlv-0001")
        .header("X-FastComments-Attempt", "2")
        .body(body.to_vec())
}

/// The answer to `req` with `body`, signed with [`SECRET`] at [`TS`] as the hub sends it.
async fn signed_answer(req: reqwest::RequestBuilder, body: &[u8]) -> (u16, Value) {
    answer(hub_request(req, SECRET, TS, body)).await
}

async fn answer(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

fn assert_failed(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{:?}", answer.1);
    assert_eq!(answer.1["status"], "failed", "{:?}", answer.1);
    assert_eq!(answer.1["code"], code, "{:?}", answer.1);
    assert!(
        answer.1["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{:?}",
        answer.1
    );
    assert_eq!(
        answer.1.as_object().map(|o| o.len()),
        Some(3),
        "{:?}",
        answer.1
    );
}

#[tokio::test]
async fn signed_comment_reaches_the_handler() {
    let base = serve(app(verifier())).await;
    let client = reqwest::Client::new();
    let body = bulgarian_comment().to_body();
    for method in [reqwest::Method::PUT, reqwest::Method::POST] {
        let req = client.request(method, format!("{base}/hooks/comment"));
        let (status, value) = signed_answer(req, &body).await;
        assert_eq!(status, 200, "{value}");
        assert_eq!(value["id"], "6741a2b3c4d5e6f708192a3b");
        assert_eq!(value["commenterName"], "Иван Петров");
        assert_eq!(value["event"], "comment.created");
        assert_eq!(value["delivery"], "dlv-0001");
        assert_eq!(value["attempt"], 2);
        assert_eq!(value["bytes"], body.len());
    }
}

#[tokio::test]
async fn verified_bytes_are_handed_over_unchanged() {
    let base = serve(app(verifier())).await;
    let client = reqwest::Client::new();
    let body = bulgarian_comment().to_body();
    let resp = hub_request(client.post(format!("{base}/hooks/raw")), SECRET, TS, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), body);
    // Any JSON, as a Value.
    let (status, value) = signed_answer(
        client.post(format!("{base}/hooks/value")),
        r#"{"anything":["at",1,"all/ü"]}"#.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(value, json!({"anything": ["at", 1, "all/ü"]}));
}

#[tokio::test]
async fn delete_accepts_the_full_comment_and_the_id_only_test_payload() {
    let (client, url) = served("/hooks/delete").await;
    let (status, value) = signed_answer(client.delete(&url), br#"{"id":"abc"}"#).await;
    assert_eq!(
        (status, value),
        (200, json!({"status":"success","id":"abc","full":false}))
    );
    let full = bulgarian_comment().to_body();
    let (status, value) = signed_answer(client.delete(&url), &full).await;
    assert_eq!(status, 200);
    assert_eq!(value["id"], "6741a2b3c4d5e6f708192a3b");
    assert_eq!(value["full"], true);
}

#[tokio::test]
async fn failed_checks_are_401_with_their_code() {
    let (client, url) = served("/hooks/comment").await;
    let body = bulgarian_comment().to_body();
    let sig = sign(SECRET, TS, &body);

    // Tampered body.
    let mut tampered = body.clone();
    let at = tampered.len() - 3;
    tampered[at] = b'X';
    let sent = client
        .put(&url)
        .header("X-FastComments-Timestamp", sig.timestamp_header())
        .header("X-FastComments-Signature", sig.signature_header())
        .body(tampered);
    let got = answer(sent).await;
    assert_failed(&got, 401, "signature-mismatch");
    assert!(
        !got.1.to_string().contains(sig.hex()),
        "no expected signature in the answer"
    );

    // Wrong secret.
    assert_failed(
        &answer(hub_request(client.put(&url), b"not the secret", TS, &body)).await,
        401,
        "signature-mismatch",
    );
    // Stale and future.
    assert_failed(
        &answer(hub_request(client.put(&url), SECRET, TS - 301, &body)).await,
        401,
        "stale-timestamp",
    );
    assert_failed(
        &answer(hub_request(client.put(&url), SECRET, TS + 301, &body)).await,
        401,
        "future-timestamp",
    );
    // Exactly at the tolerance: accepted.
    let (status, _) = answer(hub_request(client.put(&url), SECRET, TS - 300, &body)).await;
    assert_eq!(status, 200);

    let cases: [(&[(&str, &str)], &str); 4] = [
        // Missing headers.
        (
            &[("X-FastComments-Signature", sig.signature_header())],
            "missing-timestamp",
        ),
        (
            &[
                ("X-FastComments-Timestamp", sig.timestamp_header()),
                ("token", "secret"),
            ],
            "missing-signature",
        ),
        // Malformed headers.
        (
            &[
                ("X-FastComments-Timestamp", "yesterday"),
                ("X-FastComments-Signature", sig.signature_header()),
            ],
            "malformed-timestamp",
        ),
        (
            &[
                ("X-FastComments-Timestamp", sig.timestamp_header()),
                ("X-FastComments-Signature", sig.hex()),
            ],
            "malformed-signature",
        ),
    ];
    for (headers, code) in cases {
        let mut req = client.put(&url).body(body.clone());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        assert_failed(&answer(req).await, 401, code);
    }
}

#[tokio::test]
async fn authentic_body_of_the_wrong_shape_is_400_invalid_body() {
    let (client, url) = served("/hooks/comment").await;
    for body in [&br#"{"id":"abc"}"#[..], b"not json at all", b""] {
        assert_failed(
            &signed_answer(client.put(&url), body).await,
            400,
            "invalid-body",
        );
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let client = reqwest::Client::new();
    let body = bulgarian_comment().to_body();
    assert!(body.len() > 900);

    for limited in [
        // Over the verifier's own limit (seen from Content-Length).
        app(verifier().with_max_body_bytes(512)),
        // Over a DefaultBodyLimit layer set lower than the verifier's limit (seen while
        // reading).
        app(verifier()).layer(DefaultBodyLimit::max(256)),
    ] {
        let base = serve(limited).await;
        let got = signed_answer(client.put(format!("{base}/hooks/comment")), &body).await;
        assert_failed(&got, 413, "payload-too-large");
    }

    // Exactly at the limit: read.
    let base = serve(app(verifier().with_max_body_bytes(body.len()))).await;
    let (status, _) = signed_answer(client.put(format!("{base}/hooks/comment")), &body).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn receiver_without_secret_is_a_500() {
    let none: [&str; 0] = [];
    let base = serve(app(Verifier::new(none))).await;
    let client = reqwest::Client::new();
    let got = signed_answer(
        client.put(format!("{base}/hooks/comment")),
        &bulgarian_comment().to_body(),
    )
    .await;
    assert_failed(&got, 500, "no-api-secret");
}

#[tokio::test]
async fn verifier_alone_can_be_the_state() {
    let app = Router::new()
        .route(
            "/hook",
            put(|hook: VerifiedWebhook| async move { hook.payload.id }),
        )
        .with_state(verifier());
    let base = serve(app).await;
    let client = reqwest::Client::new();
    let resp = hub_request(
        client.put(format!("{base}/hook")),
        SECRET,
        TS,
        &bulgarian_comment().to_body(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "6741a2b3c4d5e6f708192a3b");
}

/// The headers the hub sends once it signs both ways: the FastComments ones, the Standard
/// Webhooks ones for `kind` (old and new secret, as during a rotation), the extensions.
fn both_headers(kind: WebhookEventKind, ts: i64, body: &[u8]) -> reqwest::header::HeaderMap {
    let id = MessageId::for_delivery(kind, "dlv-0001").unwrap();
    let mut map = reqwest::header::HeaderMap::new();
    StandardSigner::new(["retired secret", "secret"])
        .unwrap()
        .sign(&id, ts, body)
        .insert_into(&mut map);
    sign(SECRET, ts, body).insert_into(&mut map);
    fastcomments_webhooks::headers::insert_extensions(&mut map, kind, "dlv-0001", 1).unwrap();
    map.insert("content-type", "application/json".parse().unwrap());
    map
}

fn hub_request_both(
    req: reqwest::RequestBuilder,
    kind: WebhookEventKind,
    ts: i64,
    body: &[u8],
) -> reqwest::RequestBuilder {
    req.headers(both_headers(kind, ts, body))
        .body(body.to_vec())
}

#[tokio::test]
async fn standard_webhooks_reach_the_handler_with_the_kind_signed() {
    let base = serve(app(verifier())).await;
    let client = reqwest::Client::new();
    let body = bulgarian_comment().to_body();
    let req = client.put(format!("{base}/hooks/comment"));
    let (status, value) = answer(hub_request_both(req, WebhookEventKind::Update, TS, &body)).await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["event"], "comment.updated");
    assert_eq!(value["signedEvent"], "comment.updated");
    assert_eq!(value["delivery"], "dlv-0001");
    assert_eq!(value["bytes"], body.len());

    // The FastComments scheme alone still works, and signs no kind.
    let req = client.put(format!("{base}/hooks/comment"));
    let (status, value) = signed_answer(req, &body).await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["signedEvent"], Value::Null);
}

#[tokio::test]
async fn an_update_replayed_as_a_delete_is_refused() {
    let (client, url) = served("/hooks/delete").await;
    let body = bulgarian_comment().to_body();
    // Signed as an update, sent as DELETE.
    let got = answer(hub_request_both(
        client.delete(&url),
        WebhookEventKind::Update,
        TS,
        &body,
    ))
    .await;
    assert_failed(&got, 401, "method-mismatch");
    // Relabelled as a delete in the unsigned header: the signed id still says update.
    let mut relabelled = both_headers(WebhookEventKind::Update, TS, &body);
    relabelled.insert("x-fastcomments-event", "comment.deleted".parse().unwrap());
    let req = client.delete(&url).headers(relabelled).body(body.clone());
    assert_failed(&answer(req).await, 401, "header-mismatch");
    // The id changed to a delete: the signature no longer matches.
    let mut renamed = both_headers(WebhookEventKind::Update, TS, &body);
    renamed.insert("webhook-id", "delete_dlv-0001".parse().unwrap());
    renamed.insert("x-fastcomments-event", "comment.deleted".parse().unwrap());
    let req = client.delete(&url).headers(renamed).body(body.clone());
    assert_failed(&answer(req).await, 401, "signature-mismatch");
    // Stripping the Standard Webhooks headers falls back to the FastComments scheme, unless the
    // receiver accepts only Standard Webhooks.
    let strict = serve(app(verifier().with_schemes(
        fastcomments_webhooks::AcceptedSchemes::StandardWebhooksOnly,
    )))
    .await;
    let got = signed_answer(client.delete(format!("{strict}/hooks/delete")), &body).await;
    assert_failed(&got, 401, "missing-webhook-id");
    // A real delete passes, as DELETE or POST.
    for req in [client.delete(&url), client.post(&url)] {
        let (status, value) =
            answer(hub_request_both(req, WebhookEventKind::Delete, TS, &body)).await;
        assert_eq!(status, 200, "{value}");
        assert_eq!(value["full"], true);
    }
}

#[tokio::test]
async fn a_replay_store_in_the_state_refuses_copies() {
    let base = serve(app(verifier().with_replay_store(MemoryReplayStore::new()))).await;
    let client = reqwest::Client::new();
    let url = format!("{base}/hooks/comment");
    let body = bulgarian_comment().to_body();
    let send = |ts| hub_request_both(client.put(&url), WebhookEventKind::Create, ts, &body);
    let (status, value) = answer(send(TS)).await;
    assert_eq!(status, 200, "{value}");
    assert_failed(&answer(send(TS)).await, 401, "replayed");
    // The hub's retry, signed a second later, is not a copy.
    let (status, value) = answer(send(TS - 1)).await;
    assert_eq!(status, 200, "{value}");
}
