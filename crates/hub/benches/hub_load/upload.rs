//! Part b: a plugin's initial upload of many comments over real HTTP, and the hub's memory.
//!
//! By default the hub is the real `fastcomments serve` binary in a child process, so its peak
//! RSS (`VmHWM`) is its own and not the generator's. `--upload-in-process` runs it in this
//! process instead (then the RSS covers both).

use crate::comments::CommentGenerator;
use crate::{procfs, Options};
use fastcomments_hub::{open_store, HubConfig, RunningHub};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Where the hub under test runs.
pub enum HubUnderTest {
    /// `fastcomments serve` in a child process.
    Child {
        /// The process.
        child: Child,
        /// Its pid.
        pid: u32,
        /// `http://ADDR`.
        url: String,
        /// The operator token it was started with.
        admin_token: String,
    },
    /// A hub in this process (no separate RSS).
    InProcess(RunningHub),
}

impl HubUnderTest {
    fn url(&self) -> String {
        match self {
            HubUnderTest::Child { url, .. } => url.clone(),
            HubUnderTest::InProcess(r) => r.url(),
        }
    }

    fn pid(&self) -> u32 {
        match self {
            HubUnderTest::Child { pid, .. } => *pid,
            HubUnderTest::InProcess(_) => std::process::id(),
        }
    }

    fn mode(&self) -> &'static str {
        match self {
            HubUnderTest::Child { .. } => "child process",
            HubUnderTest::InProcess(_) => "in-process",
        }
    }
}

/// What the upload measured.
#[derive(Debug, Clone, Default)]
pub struct UploadReport {
    /// `child process` or `in-process`.
    pub mode: &'static str,
    /// Comments uploaded.
    pub comments: u64,
    /// Batches sent.
    pub batches: u64,
    /// Concurrent upload requests.
    pub uploaders: usize,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Failed batches (must be 0).
    pub errors: u64,
    /// Mean size of one comment's JSON.
    pub avg_comment_bytes: f64,
    /// Mean request body size.
    pub avg_body_bytes: f64,
    /// The hub's RSS after start-up, before the upload.
    pub rss_start: Option<u64>,
    /// The hub's peak RSS (`VmHWM`) at the end.
    pub rss_peak: Option<u64>,
    /// The hub's RSS at the end.
    pub rss_end: Option<u64>,
    /// CPU the hub process spent during the upload (child mode only).
    pub hub_cpu: Option<Duration>,
    /// The hub's threads (by name) during the upload: on-CPU and waiting-for-CPU time.
    pub hub_threads: Vec<procfs::ThreadTimes>,
    /// Time this process spent making request bodies.
    pub generate: Duration,
    /// Request latencies, sorted, milliseconds.
    pub latencies_ms: Vec<f64>,
    /// Database file size at the end (hub.db + WAL).
    pub db_bytes: u64,
    /// `totalCount` the hub reports after the upload.
    pub total_count: u64,
}

impl UploadReport {
    /// Comments per second.
    pub fn rate(&self) -> f64 {
        self.comments as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency percentile in ms.
    pub fn latency(&self, pct: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * pct / 100.0).round() as usize;
        self.latencies_ms[i]
    }
}

/// Starts `fastcomments serve` on a free loopback port over `data_dir`.
pub async fn start_child(
    bin: &Path,
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<HubUnderTest, String> {
    let admin_token = format!("bench-admin-{}", uuid::Uuid::new_v4().simple());
    let log = std::fs::File::create(data_dir.join("hub.log"))
        .map_err(|e| format!("creating the hub log: {e}"))?;
    let mut command = tokio::process::Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut child = command
        .env("FASTCOMMENTS_ADMIN_TOKEN", &admin_token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let pid = child.id().ok_or("the hub exited at once")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("http://") {
                return Some(line[at..].trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| {
        format!(
            "the hub did not print its address; see {}",
            data_dir.join("hub.log").display()
        )
    })?;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(HubUnderTest::Child {
        child,
        pid,
        url,
        admin_token,
    })
}

/// Starts a hub in this process (on `server_rt`).
pub fn start_in_process(
    server_rt: &Runtime,
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<HubUnderTest, String> {
    server_rt.block_on(async {
        let running = bind_hub(data_dir, database_url).await?;
        Ok(HubUnderTest::InProcess(running))
    })
}

/// A hub with the default configuration on a free loopback port, over the store at
/// `database_url` or else in `data_dir`.
pub async fn bind_hub(data_dir: &Path, database_url: Option<&str>) -> Result<RunningHub, String> {
    let store = open_store(database_url, data_dir)
        .await
        .map_err(|e| format!("opening the store: {e}"))?;
    RunningHub::bind(
        "127.0.0.1:0",
        store,
        HubConfig::default(),
        std::future::pending(),
    )
    .await
    .map_err(|e| format!("binding the hub: {e}"))
}

/// Creates a tenant on the hub and returns its API secret.
async fn create_tenant(hub: &HubUnderTest, http: &reqwest::Client) -> Result<String, String> {
    match hub {
        HubUnderTest::Child {
            url, admin_token, ..
        } => {
            let created = crate::call(
                http.post(format!("{url}/admin/v1/tenants"))
                    .bearer_auth(admin_token)
                    .json(&serde_json::json!({
                        "name": "Upload bench",
                        "domains": ["blog.example.com"],
                    })),
            )
            .await?;
            created["apiSecret"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no apiSecret in {created}"))
        }
        HubUnderTest::InProcess(running) => running
            .hub
            .create_tenant("Upload bench", vec!["blog.example.com".into()])
            .await
            .map(|(_, s)| s.secret)
            .map_err(|e| format!("{}: {}", e.code, e.reason)),
    }
}

/// Runs the whole upload against `hub`, then stops it.
pub async fn run(
    opts: &Options,
    hub: HubUnderTest,
    data_dir: &Path,
) -> Result<UploadReport, String> {
    let base = hub.url();
    let pid = hub.pid();
    println!("hub ({}) on {base}, pid {pid}", hub.mode());
    let http = crate::http_client()?;
    let api_key = create_tenant(&hub, &http).await?;
    let token = uuid::Uuid::new_v4().to_string();
    crate::call(http.put(format!(
        "{base}/integrations/v1/token/{token}?integrationType=wordpress&domain=blog.example.com"
    )))
    .await?;
    crate::call(
        http.post(format!("{base}/api/v1/integrations/{token}/acknowledge"))
            .header("x-api-key", &api_key)
            .json(&serde_json::json!({})),
    )
    .await?;
    let poll = crate::call(http.get(format!(
        "{base}/integrations/v1/stream?token={token}&lastFetchDate=0"
    )))
    .await?;
    let asks = poll["commands"]
        .as_array()
        .and_then(|c| c.first())
        .is_some_and(|c| c["command"] == "SendNextCommentsPayload" && c["start"] == 0);
    if !asks {
        return Err(format!("the hub should ask for the first batch: {poll}"));
    }

    let mut report = UploadReport {
        mode: hub.mode(),
        uploaders: opts.uploaders,
        rss_start: procfs::status_bytes(pid, "VmRSS"),
        ..UploadReport::default()
    };
    let peak_sampled = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak_sampled.clone();
        tokio::spawn(async move {
            loop {
                if let Some(rss) = procfs::status_bytes(pid, "VmRSS") {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let cpu_before = process_cpu(pid);
    let threads_before = procfs::threads(&pid.to_string());

    let mut generator = CommentGenerator::new(opts.comments, 1000, 0x5EED_F00D);
    let url: Arc<str> = format!("{base}/integrations/v1/comments?token={token}").into();
    let limit = Arc::new(Semaphore::new(opts.uploaders.max(1)));
    let mut in_flight: JoinSet<Result<(f64, u64), String>> = JoinSet::new();
    let mut body_bytes = 0u64;
    let started = Instant::now();
    let mut progress = Progress {
        started,
        pid,
        step: (opts.comments / 10).max(1),
        next: (opts.comments / 10).max(1),
        done: 0,
        latencies: Vec::new(),
        errors: 0,
    };
    while generator.remaining() > 0 {
        let made = Instant::now();
        let (body, count) = generator.next_batch(opts.batch);
        report.generate += made.elapsed();
        let last = generator.remaining() == 0;
        body_bytes += body.len() as u64;
        report.batches += 1;
        if last {
            // The closing batch (countRemaining 0) goes after every other batch has landed.
            while let Some(done) = in_flight.join_next().await {
                progress.collect(done);
            }
        }
        let permit = limit
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        while let Some(done) = in_flight.try_join_next() {
            progress.collect(done);
        }
        let http = http.clone();
        let url = url.clone();
        in_flight.spawn(async move {
            let result = post_batch(&http, &url, body, count).await;
            drop(permit);
            result
        });
    }
    while let Some(done) = in_flight.join_next().await {
        progress.collect(done);
    }
    report.elapsed = started.elapsed();
    report.hub_cpu = match (&hub, cpu_before, process_cpu(pid)) {
        (HubUnderTest::Child { .. }, Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    if matches!(hub, HubUnderTest::Child { .. }) {
        report.hub_threads =
            procfs::threads_between(&threads_before, &procfs::threads(&pid.to_string()));
    }
    sampler.abort();
    report.comments = opts.comments;
    report.errors = progress.errors;
    progress.latencies.sort_by(f64::total_cmp);
    report.latencies_ms = progress.latencies;
    report.avg_comment_bytes = generator.comment_bytes as f64 / opts.comments.max(1) as f64;
    report.avg_body_bytes = body_bytes as f64 / report.batches.max(1) as f64;

    // The hub must hold every comment and consider the upload finished.
    let page = crate::call(http.get(format!(
        "{base}/integrations/v1/comments?token={token}&includeCount=true"
    )))
    .await?;
    report.total_count = page["totalCount"].as_u64().unwrap_or(0);
    let integrations = crate::call(
        http.get(format!("{base}/api/v1/integrations"))
            .header("x-api-key", &api_key),
    )
    .await?;
    let ours = integrations["integrations"]
        .as_array()
        .and_then(|list| list.iter().find(|i| i["token"] == token.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    if ours["uploadFinished"] != Value::Bool(true)
        || ours["commentsReceived"].as_u64() != Some(opts.comments)
    {
        report.errors += 1;
        eprintln!("the token's upload is not finished as expected: {ours}");
    }

    report.rss_peak = procfs::status_bytes(pid, "VmHWM");
    report.rss_end = procfs::status_bytes(pid, "VmRSS");
    let sampled = peak_sampled.load(Ordering::Relaxed);
    if report.rss_peak.is_none() && sampled > 0 {
        report.rss_peak = Some(sampled);
    }
    report.db_bytes = db_size(data_dir);
    stop(hub).await;
    Ok(report)
}

/// Collects finished batches and prints a line every tenth of the upload.
struct Progress {
    started: Instant,
    pid: u32,
    step: u64,
    next: u64,
    done: u64,
    latencies: Vec<f64>,
    errors: u64,
}

impl Progress {
    fn collect(&mut self, done: Result<Result<(f64, u64), String>, tokio::task::JoinError>) {
        match done {
            Ok(Ok((ms, count))) => {
                self.latencies.push(ms);
                self.done += count;
                if self.done >= self.next {
                    let secs = self.started.elapsed().as_secs_f64();
                    println!(
                        "  {:>9} comments stored in {secs:>6.1} s ({:>7.0}/s), hub RSS {}",
                        self.done,
                        self.done as f64 / secs,
                        procfs::status_bytes(self.pid, "VmRSS").map_or("?".into(), crate::mib)
                    );
                    self.next += self.step;
                }
            }
            Ok(Err(e)) => {
                self.errors += 1;
                if self.errors <= 3 {
                    eprintln!("  upload batch failed: {e}");
                }
            }
            Err(e) => {
                self.errors += 1;
                eprintln!("  upload task failed: {e}");
            }
        }
    }
}

/// Posts one batch and checks the answer; returns its latency in ms and its size.
async fn post_batch(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    count: u64,
) -> Result<(f64, u64), String> {
    let sent = Instant::now();
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading: {e}"))?;
    let ms = sent.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ));
    }
    let answer: Value = serde_json::from_slice(&bytes).map_err(|e| format!("answer: {e}"))?;
    let ids = answer["commentIds"]
        .as_object()
        .map_or(0, |m| m.len() as u64);
    if answer["status"] != "success" || answer["received"].as_u64() != Some(count) || ids != count {
        return Err(format!(
            "unexpected answer (received {}, {ids} ids)",
            answer["received"]
        ));
    }
    Ok((ms, count))
}

/// utime + stime of a process.
fn process_cpu(pid: u32) -> Option<Duration> {
    procfs::process_cpu_ticks(pid).map(|t| Duration::from_millis(t * 10))
}

fn db_size(dir: &Path) -> u64 {
    ["hub.db", "hub.db-wal", "hub.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Stops the hub: SIGTERM for the child (a graceful shutdown), then waits.
async fn stop(hub: HubUnderTest) {
    match hub {
        HubUnderTest::Child { mut child, pid, .. } => {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            if tokio::time::timeout(Duration::from_secs(20), child.wait())
                .await
                .is_err()
            {
                eprintln!("the hub did not stop within 20 s of SIGTERM; killing it");
                let _ = child.kill().await;
            }
        }
        HubUnderTest::InProcess(running) => {
            let _ = running.shutdown().await;
        }
    }
}

/// The `fastcomments` binary beside this bench's own build output (`target/<profile>/`).
pub fn default_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/release/deps/hub_load-… → target/release/fastcomments
    Some(exe.parent()?.parent()?.join("fastcomments"))
}
