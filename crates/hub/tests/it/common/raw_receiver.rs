//! A webhook receiver on 127.0.0.1:0 that keeps each request's head as the bytes arrived, so
//! tests can see header names exactly as the hub spelt them (HTTP stacks lower-case them).
//! Heads are parsed with `httparse`; keep-alive connections are served request after request.
//! It can also hang: accept, read the request, never answer.
#![allow(dead_code)]

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    /// Header (name, value) pairs, names exactly as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl RawRequest {
    /// The value of the header spelt exactly `name` (case-sensitive, as PHP's
    /// `getallheaders()` lookups are).
    pub fn exact(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// What the receiver does with a request: answer with this status, or never answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    Hang,
}

type Decide = Arc<dyn Fn(&RawRequest) -> Reply + Send + Sync>;

#[derive(Clone)]
pub struct RawReceiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<RawRequest>>>,
    /// Connections accepted so far.
    pub connections: Arc<Mutex<usize>>,
    /// Requests left unanswered whose connection is still open: (now, most at any time).
    pub hanging: Arc<Mutex<(usize, usize)>>,
}

impl RawReceiver {
    pub async fn start(decide: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<RawRequest>>> = Arc::default();
        let connections: Arc<Mutex<usize>> = Arc::default();
        let hanging: Arc<Mutex<(usize, usize)>> = Arc::default();
        let decide: Decide = Arc::new(decide);
        let (g, c, h) = (got.clone(), connections.clone(), hanging.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *c.lock() += 1;
                tokio::spawn(serve(stream, g.clone(), decide.clone(), h.clone()));
            }
        });
        RawReceiver {
            url,
            got,
            connections,
            hanging,
        }
    }

    /// Answers 200 to everything.
    pub async fn ok() -> Self {
        Self::start(|_| Reply::Status(200)).await
    }

    /// Accepts and reads every request, answers none.
    pub async fn hanging() -> Self {
        Self::start(|_| Reply::Hang).await
    }

    pub fn all(&self) -> Vec<RawRequest> {
        self.got.lock().clone()
    }

    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<RawRequest> {
        super::wait_for_count(n, secs, "requests", || self.all()).await
    }
}

async fn serve(
    mut stream: TcpStream,
    got: Arc<Mutex<Vec<RawRequest>>>,
    decide: Decide,
    hanging: Arc<Mutex<(usize, usize)>>,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Read until a whole head is there.
        let (request, head_len, body_len) = loop {
            let mut names = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Request::new(&mut names);
            match parsed.parse(&buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let headers: Vec<(String, String)> = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_owned(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    let body_len = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    let request = RawRequest {
                        method: parsed.method.unwrap_or_default().to_owned(),
                        path: parsed.path.unwrap_or_default().to_owned(),
                        headers,
                        body: Vec::new(),
                        at: Instant::now(),
                    };
                    break (request, head_len, body_len);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return,
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        while buf.len() < head_len + body_len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let mut request = request;
        request.body = buf[head_len..head_len + body_len].to_vec();
        buf.drain(..head_len + body_len);
        let reply = decide(&request);
        got.lock().push(request);
        match reply {
            Reply::Hang => {
                {
                    let mut h = hanging.lock();
                    h.0 += 1;
                    h.1 = h.1.max(h.0);
                }
                // Keep the connection open and silent until the hub gives up on it.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                hanging.lock().0 -= 1;
                return;
            }
            Reply::Status(code) => {
                let answer = format!("HTTP/1.1 {code} X\r\ncontent-length: 2\r\n\r\nok");
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}
