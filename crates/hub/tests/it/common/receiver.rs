//! A real HTTP webhook receiver on 127.0.0.1:0 that records every request and answers as told.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::Router;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Status, extra response headers and body.
type Reply = (u16, Vec<(String, String)>, String);
type Answer = Arc<dyn Fn(&Received, &[Received]) -> Reply + Send + Sync>;

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Answers 200 to everything.
    pub async fn ok() -> Receiver {
        Self::with(|_, _| (200, "ok".into())).await
    }

    /// Answers with `answer(request, earlier requests)`.
    pub async fn with(
        answer: impl Fn(&Received, &[Received]) -> (u16, String) + Send + Sync + 'static,
    ) -> Receiver {
        Self::with_headers(move |r, earlier| {
            let (code, text) = answer(r, earlier);
            (code, Vec::new(), text)
        })
        .await
    }

    /// Answers with `answer(request, earlier requests)` = (status, headers, body).
    pub async fn with_headers(
        answer: impl Fn(&Received, &[Received]) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answer: Answer = Arc::new(answer);
        let state = (got.clone(), answer);
        let app = Router::new().fallback(
            move |method: Method, uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (got, answer) = state.clone();
                async move {
                    let r = Received {
                        method,
                        path: uri.path().to_owned(),
                        headers,
                        body,
                        at: Instant::now(),
                    };
                    let (code, extra, text) = {
                        let mut all = got.lock();
                        let reply = answer(&r, &all);
                        all.push(r);
                        reply
                    };
                    let mut headers = HeaderMap::new();
                    for (name, value) in extra {
                        headers.insert(
                            axum::http::HeaderName::try_from(name).unwrap(),
                            axum::http::HeaderValue::try_from(value).unwrap(),
                        );
                    }
                    (
                        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                        headers,
                        text,
                    )
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, got }
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().clone()
    }

    /// Waits until at least `n` requests arrived (or panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        super::wait_for_count(n, secs, "webhook requests", || self.all()).await
    }
}
