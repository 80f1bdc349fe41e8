//! `fastcomments webhooks listen` verifies what it receives and says so; with `--forward` it
//! passes verified requests on to a real app on loopback, unchanged, and answers with the app's
//! response.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use fastcomments_webhooks::{MessageId, Secret, StandardSigner, WebhookEventKind};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

async fn next(lines: &mut Lines) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

/// Starts `fastcomments webhooks listen --port 0 <extra>` and returns it, its output lines
/// and its URL.
/// Checks the answer's status; the line the listener logged for the request.
async fn logged(res: &reqwest::Response, status: u16, lines: &mut Lines) -> String {
    assert_eq!(res.status(), status);
    next(lines).await
}

async fn listen(extra: &[&str]) -> (Child, Lines, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["webhooks", "listen", "--port", "0"])
        .args(extra)
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
    (child, lines, url)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn listen_prints_kind_comment_and_verdict() {
    let (_child, mut lines, url) = listen(&["--secret", "old-secret", "--secret", "s3cr3t"]).await;

    let body = r#"{"id":"c1","urlId":"p","commenterName":"Ана","comment":"hi 👋"}"#.as_bytes();
    let sig = fastcomments_webhooks::sign(b"s3cr3t", now(), body);
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
    let line = logged(&res, 200, &mut lines).await;
    assert!(
        line.contains("kind=comment.created")
            && line.contains("comment=c1")
            && line.contains("verdict=valid")
            && line.contains("scheme=fastcomments"),
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
    let line = logged(&res, 401, &mut lines).await;
    assert!(line.contains("verdict=rejected"), "{line}");
    assert!(
        !line.contains(sig.hex()),
        "never leaks the expected signature"
    );
}

/// What the app received: method, path and query, headers, body.
type Seen = Arc<Mutex<Vec<(Method, String, HeaderMap, Bytes)>>>;

/// A real app on 127.0.0.1 that records every request and answers `201` with headers and a
/// body of its own (a `302` on `/base/redirect`).
async fn app() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let router = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let record = Arc::clone(&record);
            async move {
                let path = uri
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let redirect = uri.path() == "/base/redirect";
                let answer = format!("app saw {} bytes", body.len());
                record.lock().unwrap().push((method, path, headers, body));
                if redirect {
                    return (
                        StatusCode::FOUND,
                        [("location", "http://elsewhere.invalid/")],
                        "",
                    )
                        .into_response();
                }
                (
                    StatusCode::CREATED,
                    [
                        ("x-app", "yes"),
                        ("set-cookie", "a=1"),
                        ("content-type", "text/plain; charset=utf-8"),
                    ],
                    answer,
                )
                    .into_response()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), seen)
}

const API_SECRET: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The headers the hub sends for one delivery, signed both ways at `ts`.
/// Sends `req` with `headers` and `body`; the answer.
async fn send(
    req: reqwest::RequestBuilder,
    headers: HeaderMap,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    req.headers(headers).body(body).send().await.unwrap()
}

fn hub_headers(kind: WebhookEventKind, delivery: &str, ts: i64, body: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    let id = MessageId::for_delivery(kind, delivery).unwrap();
    StandardSigner::new(["retired secret", API_SECRET])
        .unwrap()
        .sign(&id, ts, body)
        .insert_into(&mut map);
    fastcomments_webhooks::sign(API_SECRET.as_bytes(), ts, body).insert_into(&mut map);
    fastcomments_webhooks::headers::insert_extensions(&mut map, kind, delivery, 1).unwrap();
    map.insert("content-type", "application/json".parse().unwrap());
    map
}

#[tokio::test]
async fn forward_passes_verified_requests_on_unchanged() {
    let (app_url, seen) = app().await;
    // The secret in its Standard Webhooks form: the listener reads both forms.
    let whsec = Secret::raw(API_SECRET).to_standard();
    let forward = format!("{app_url}/base/");
    let (_child, mut lines, url) = listen(&["--secret", &whsec, "--forward", &forward]).await;
    assert!(next(&mut lines)
        .await
        .contains("forwarding verified requests"));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A Standard Webhooks request, with a body that is not even UTF-8, repeated headers and a
    // query: the app gets all of it as sent and its answer comes back.
    let mut body = r#"{"id":"c1","comment":"Здравей 👋 a/b"}"#.as_bytes().to_vec();
    body.extend_from_slice(&[0xff, 0x00, b'\n']);
    let ts = now();
    let headers = hub_headers(WebhookEventKind::Update, "dlv-1", ts, &body);
    let mut with_multi = headers.clone();
    for value in ["one", "two"] {
        with_multi.append("x-multi", HeaderValue::from_static(value));
    }
    let res = send(
        client.put(format!("{url}hooks/comment?x=1&y=%C3%A9")),
        with_multi,
        body.clone(),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-app"], "yes");
    assert_eq!(res.headers()["set-cookie"], "a=1");
    assert_eq!(
        res.text().await.unwrap(),
        format!("app saw {} bytes", body.len())
    );
    let line = next(&mut lines).await;
    assert!(
        line.contains("verdict=valid")
            && line.contains("scheme=standard-webhooks")
            && line.contains("kind=comment.updated")
            && line.contains("delivery=dlv-1")
            && line.ends_with("forwarded=201"),
        "{line}"
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (method, path, got, got_body) = &seen[0];
        assert_eq!(method, Method::PUT);
        assert_eq!(path, "/base/hooks/comment?x=1&y=%C3%A9");
        assert_eq!(got_body.as_ref(), body.as_slice());
        for (name, value) in &headers {
            let all: Vec<_> = got.get_all(name).iter().collect();
            assert_eq!(all, [value], "{name}");
        }
        let multi: Vec<_> = got.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["one", "two"]);
        assert_eq!(got["content-length"], body.len().to_string());
    }

    // The FastComments scheme alone is verified and forwarded too.
    let mut fc_only = hub_headers(WebhookEventKind::Create, "dlv-2", now(), &body);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        fc_only.remove(name);
    }
    let res = send(
        client.post(format!("{url}hooks/new")),
        fc_only,
        body.clone(),
    )
    .await;
    let line = logged(&res, 201, &mut lines).await;
    assert!(
        line.contains("scheme=fastcomments") && line.ends_with("forwarded=201"),
        "{line}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);

    // Refused, each with the check that failed, and none of them reaches the app: a tampered
    // body, the first request again (a copy), and an update replayed as a DELETE.
    let mut tampered = body.clone();
    tampered[3] = b'X';
    let refusals = [
        (
            Method::PUT,
            headers.clone(),
            tampered,
            "signature does not match",
        ),
        (Method::PUT, headers.clone(), body.clone(), "replayed"),
        (
            Method::DELETE,
            hub_headers(WebhookEventKind::Update, "dlv-3", now(), &body),
            body.clone(),
            "a DELETE request must be signed as comment.deleted",
        ),
    ];
    for (method, headers, sent, reason) in refusals {
        let res = send(
            client.request(method, format!("{url}hooks/comment")),
            headers,
            sent,
        )
        .await;
        assert_eq!(res.status(), 401);
        assert!(res.text().await.unwrap().contains(reason));
        let line = next(&mut lines).await;
        assert!(
            line.contains("verdict=rejected") && !line.contains("forwarded"),
            "{line}"
        );
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "refused requests are not forwarded"
    );

    // The app's redirect is passed back, not followed.
    let res = send(
        client.post(format!("{url}redirect")),
        hub_headers(WebhookEventKind::Create, "dlv-4", now(), b"{}"),
        "{}",
    )
    .await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "http://elsewhere.invalid/");
    assert!(next(&mut lines).await.ends_with("forwarded=302"));
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn forward_to_an_app_that_is_down_answers_502() {
    // A port that was just free: nothing listens on it.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (_child, mut lines, url) = listen(&["--secret", API_SECRET, "--forward", &app_url]).await;
    next(&mut lines).await;
    let res = send(
        reqwest::Client::new().put(format!("{url}hooks")),
        hub_headers(WebhookEventKind::Create, "dlv-1", now(), b"{}"),
        "{}",
    )
    .await;
    let line = logged(&res, 502, &mut lines).await;
    assert!(
        line.contains("verdict=valid") && line.contains("forwarded=failed"),
        "{line}"
    );
}

#[tokio::test]
async fn standard_only_refuses_the_fastcomments_scheme() {
    let (_child, mut lines, url) = listen(&["--secret", API_SECRET, "--standard-only"]).await;
    let mut fc_only = hub_headers(WebhookEventKind::Create, "dlv-1", now(), b"{}");
    fc_only.remove("webhook-id");
    fc_only.remove("webhook-timestamp");
    fc_only.remove("webhook-signature");
    let client = reqwest::Client::new();
    let res = send(client.put(&url), fc_only, "{}").await;
    assert_eq!(res.status(), 401);
    assert!(next(&mut lines).await.contains("missing webhook-id header"));
    let res = send(
        client.put(&url),
        hub_headers(WebhookEventKind::Create, "dlv-1", now(), b"{}"),
        "{}",
    )
    .await;
    assert_eq!(res.status(), 200);
}
