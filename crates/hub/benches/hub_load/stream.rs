//! Part a: idle stream polls per second against a minimal axum "hello" server.
//!
//! Both servers run in this process on one runtime (the configuration `#[tokio::main]` gives
//! the hub binary: multi-threaded, one worker per core); the load generator has a runtime of
//! its own. Runs alternate (hello, stream, stream, hello, …) so drift on the shared machine
//! hits both alike, and the medians are compared.

use crate::loadgen::{self, Load, LoadResult, Target};
use crate::Options;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use tokio::runtime::Runtime;

/// Every run of both targets.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// Every hello run.
    pub hello: Vec<LoadResult>,
    /// Every stream run.
    pub stream: Vec<LoadResult>,
    /// Polls the hub counted as idle (answered without reading the timeline) during the runs.
    pub idle_polls: u64,
    /// Polls the hub counted during the runs.
    pub polls: u64,
    /// Size of one idle stream answer.
    pub stream_body_bytes: usize,
}

impl StreamReport {
    /// Median requests/s of the hello runs.
    pub fn hello_rps(&self) -> f64 {
        median(self.hello.iter().map(LoadResult::rps))
    }
    /// Median requests/s of the stream runs.
    pub fn stream_rps(&self) -> f64 {
        median(self.stream.iter().map(LoadResult::rps))
    }
    /// Median server CPU µs per hello request.
    pub fn hello_server_us(&self) -> f64 {
        median(self.hello.iter().map(LoadResult::server_us_per_req))
    }
    /// Median server CPU µs per idle poll.
    pub fn stream_server_us(&self) -> f64 {
        median(self.stream.iter().map(LoadResult::server_us_per_req))
    }
    /// Errors over all runs.
    pub fn errors(&self) -> u64 {
        self.hello
            .iter()
            .chain(&self.stream)
            .map(|r| r.errors)
            .sum()
    }
}

/// The median of some numbers (the mean of the middle two for an even count).
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Starts the hub and the hello server on `server_rt`, prepares an idle token, and runs the
/// alternating load from `loadgen_rt`.
pub fn run(
    opts: &Options,
    data_dir: &Path,
    database_url: Option<&str>,
    server_rt: &Runtime,
    loadgen_rt: &Runtime,
) -> Result<StreamReport, String> {
    let (running, hello_addr) = server_rt.block_on(async {
        let running = crate::upload::bind_hub(data_dir, database_url).await?;
        let hello_addr = start_hello().await?;
        Ok::<_, String>((running, hello_addr))
    })?;
    println!(
        "hub (in-process) on {}, hello on http://{hello_addr}",
        running.url()
    );

    let (_, secret) = server_rt
        .block_on(
            running
                .hub
                .create_tenant("Load bench", vec!["stream-bench.example".into()]),
        )
        .map_err(|e| format!("creating the tenant: {}: {}", e.code, e.reason))?;
    let token = uuid::Uuid::new_v4().to_string();
    let (path_and_query, expected_body) =
        loadgen_rt.block_on(prepare_idle_token(&running.url(), &token, &secret.secret))?;
    println!(
        "idle poll: GET {path_and_query} -> {} bytes: {}",
        expected_body.len(),
        String::from_utf8_lossy(&expected_body)
    );

    let hello = Target {
        name: "hello",
        addr: hello_addr,
        path_and_query: "/".into(),
        expected_body: Bytes::from_static(b"hello"),
    };
    let stream = Target {
        name: "stream",
        addr: running.addr,
        path_and_query,
        expected_body: expected_body.clone(),
    };
    let load = Load {
        connections: opts.connections,
        warmup: opts.warmup,
        measure: opts.measure,
    };
    let polls_before = running.hub.metrics.polls.get();
    let idle_before = running.hub.metrics.idle_polls.get();
    let mut report = StreamReport {
        hello: Vec::new(),
        stream: Vec::new(),
        idle_polls: 0,
        polls: 0,
        stream_body_bytes: expected_body.len(),
    };
    for round in 0..opts.rounds {
        // ABBA order: hello, stream, stream, hello, …
        let order: [&Target; 2] = if round % 2 == 0 {
            [&hello, &stream]
        } else {
            [&stream, &hello]
        };
        for target in order {
            let r = loadgen::run(loadgen_rt, target, load);
            println!(
                "  round {} {:<6} {:>9.0} req/s  errors {}  connects {}  server CPU {:>5.1} µs/req  loadgen CPU {:>5.1} µs/req  (load {})",
                round + 1,
                target.name,
                r.rps(),
                r.errors,
                r.connects,
                r.server_us_per_req(),
                r.loadgen_us_per_req(),
                crate::procfs::loadavg(),
            );
            if target.name == "hello" {
                report.hello.push(r);
            } else {
                report.stream.push(r);
            }
        }
    }
    report.polls = running.hub.metrics.polls.get() - polls_before;
    report.idle_polls = running.hub.metrics.idle_polls.get() - idle_before;
    server_rt
        .block_on(running.shutdown())
        .map_err(|e| format!("hub shutdown: {e}"))?;
    Ok(report)
}

/// Serves `GET /` → `hello` with axum, as a baseline for the cost of HTTP itself.
async fn start_hello() -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding hello: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("hello address: {e}"))?;
    let app = Router::new().route("/", get(|| async { "hello" }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("hello server stopped: {e}");
        }
    });
    Ok(addr)
}

/// Registers and acknowledges `token` with the initial upload skipped, writes one comment,
/// reads the stream up to date and returns the idle poll's path and its exact answer.
async fn prepare_idle_token(
    base: &str,
    token: &str,
    api_key: &str,
) -> Result<(String, Bytes), String> {
    let http = crate::http_client()?;
    let registered = crate::call(http.put(format!(
        "{base}/integrations/v1/token/{token}?integrationType=wordpress&domain=blog.example.com"
    )))
    .await?;
    if registered["isTokenValidated"] != Value::Bool(false) {
        return Err(format!("fresh token should be pending: {registered}"));
    }
    crate::call(
        http.post(format!("{base}/api/v1/integrations/{token}/acknowledge"))
            .header("x-api-key", api_key)
            .json(&serde_json::json!({ "skipInitialSync": true })),
    )
    .await?;
    crate::call(
        http.post(format!("{base}/api/v1/comments"))
            .header("x-api-key", api_key)
            .json(&serde_json::json!({
                "urlId": "/2024/05/hello-world/",
                "url": "https://blog.example.com/2024/05/hello-world/",
                "commenterName": "Ada",
                "commenterEmail": "ada@example.org",
                "comment": "<p>First!</p>",
            })),
    )
    .await?;
    let first = crate::call(http.get(format!(
        "{base}/integrations/v1/stream?token={token}&lastFetchDate=0"
    )))
    .await?;
    let events = first["events"].as_array().map_or(0, Vec::len);
    let next = first["nextFetchDate"]
        .as_i64()
        .ok_or_else(|| format!("stream answer without nextFetchDate: {first}"))?;
    if events != 1 || first["hasMore"] != Value::Bool(false) {
        return Err(format!("expected one event and no more: {first}"));
    }
    let path = format!("/integrations/v1/stream?token={token}&lastFetchDate={next}");
    let idle = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(|e| format!("idle poll: {e}"))?;
    if !idle.status().is_success() {
        return Err(format!("idle poll answered {}", idle.status()));
    }
    let body = idle.bytes().await.map_err(|e| format!("idle poll: {e}"))?;
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|e| format!("idle poll is not JSON: {e}"))?;
    let is_idle = parsed["commands"].as_array().is_some_and(Vec::is_empty)
        && parsed["events"].as_array().is_some_and(Vec::is_empty)
        && parsed["hasMore"] == Value::Bool(false)
        && parsed["nextFetchDate"].as_i64() == Some(next);
    if !is_idle {
        return Err(format!(
            "the poll is not idle (pending command or events?): {parsed}"
        ));
    }
    Ok((path, body))
}
