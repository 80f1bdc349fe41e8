//! Load benchmark of the hub (issue 3, item 7).
//!
//! a. Idle stream polls/s: `GET /integrations/v1/stream` with nothing new, against a minimal
//!    axum "hello" server on the same runtime configuration, driven by the same in-process
//!    load generator (keep-alive connections, fixed duration). Bar: stream ≥ 50% of hello.
//! b. Upload ingest: a million realistic comments in batches of 500 via
//!    `POST /integrations/v1/comments` over loopback HTTP to the real `fastcomments serve`
//!    binary in a child process. Bars: ≥ 25,000 comments/s, hub peak RSS ≤ 300 MB.
//!
//! ```text
//! cargo bench -p fastcomments-hub --bench hub_load                 # the issue's full sizes
//! cargo bench -p fastcomments-hub --bench hub_load -- --quick      # a short smoke run
//! cargo bench -p fastcomments-hub --bench hub_load -- --help       # every option
//! ```
//! Run without `--bench` (as `cargo test --benches` does) it makes a tiny smoke run with the
//! hub in-process, so the bench keeps compiling and working without taking minutes.

// The parts live in `benches/hub_load/`; a bench's root file does not look there by itself.
#[path = "hub_load/comments.rs"]
mod comments;
#[path = "hub_load/loadgen.rs"]
mod loadgen;
#[path = "hub_load/procfs.rs"]
mod procfs;
#[path = "hub_load/stream.rs"]
mod stream;
#[path = "hub_load/upload.rs"]
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
hub_load: load benchmark of the FastComments hub (issue 3, item 7)

usage: cargo bench -p fastcomments-hub --bench hub_load -- [options]

  --quick               short smoke run (2 s per load run, 1 round, 20,000 comments)
  --only stream|upload  run one part only
  --seconds S           counted seconds per load run (default 10)
  --warmup S            warm-up seconds before each load run (default 1)
  --rounds N            hello/stream pairs, alternated (default 3; medians are reported)
  --connections N       keep-alive connections of the load generator (default 32)
  --client-threads N    worker threads of the load generator's runtime (default 2)
  --comments N          comments to upload (default 1000000)
  --batch N             comments per upload batch (default 500)
  --uploaders N         upload requests in flight at once (default 4; fastcomments-integration
                        uploads 8; 1 is a plugin that waits for each answer)
  --hub-bin PATH        the fastcomments binary to run (default: build it, then
                        target/release/fastcomments)
  --no-build            do not run `cargo build --release -p fastcomments` first
  --upload-in-process   run the upload against an in-process hub (RSS then includes the
                        generator)
  --keep-data           keep the temporary data directory
  --backends LIST       sqlite, postgres, or sqlite,postgres (default sqlite): each part runs
                        once per backend, side by side in this run; PostgreSQL is a real
                        server from Debian's package with its durable defaults (testkit)
  --pg-setting N=V      a further postgresql.conf setting for that server (repeatable), e.g.
                        shared_buffers=1GB
";

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--only`.
    pub only: Option<String>,
    /// Counted time per load run.
    pub measure: Duration,
    /// Warm-up per load run.
    pub warmup: Duration,
    /// hello/stream pairs.
    pub rounds: usize,
    /// Load generator connections.
    pub connections: usize,
    /// Load generator runtime threads.
    pub client_threads: usize,
    /// Comments to upload.
    pub comments: u64,
    /// Comments per batch.
    pub batch: u64,
    /// Concurrent upload requests.
    pub uploaders: usize,
    /// Explicit hub binary.
    pub hub_bin: Option<PathBuf>,
    /// Build the hub binary first.
    pub build: bool,
    /// Upload against an in-process hub.
    pub upload_in_process: bool,
    /// Keep the data directory.
    pub keep_data: bool,
    /// Label of the size preset.
    pub preset: &'static str,
    /// The store backends to run each part on, in order.
    pub backends: Vec<Backend>,
    /// `--pg-setting name=value`: extra `postgresql.conf` lines for the bench's cluster.
    pub pg_settings: Vec<(String, String)>,
}

/// A store backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in the part's data directory (the default).
    Sqlite,
    /// A database on a PostgreSQL server started for the run.
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

impl Options {
    fn full() -> Options {
        Options {
            only: None,
            measure: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            rounds: 3,
            connections: 32,
            client_threads: 2,
            comments: 1_000_000,
            batch: 500,
            uploaders: 4,
            hub_bin: None,
            build: true,
            upload_in_process: false,
            keep_data: false,
            preset: "full",
            backends: vec![Backend::Sqlite],
            pg_settings: Vec::new(),
        }
    }

    fn quick() -> Options {
        Options {
            measure: Duration::from_secs(2),
            warmup: Duration::from_millis(500),
            rounds: 1,
            comments: 20_000,
            preset: "quick",
            ..Options::full()
        }
    }

    /// Under `cargo test`: seconds, not minutes, and no release build of the binary.
    fn smoke() -> Options {
        Options {
            measure: Duration::from_millis(300),
            warmup: Duration::from_millis(100),
            rounds: 1,
            connections: 4,
            comments: 2_000,
            upload_in_process: true,
            build: false,
            preset: "smoke (cargo test)",
            ..Options::full()
        }
    }

    fn parse(args: &[String]) -> Result<Options, String> {
        let bench_mode = args.iter().any(|a| a == "--bench");
        let mut opts = if args.iter().any(|a| a == "--quick") {
            Options::quick()
        } else if bench_mode {
            Options::full()
        } else {
            Options::smoke()
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--bench" | "--quick" => {}
                "--only" => {
                    let part = value(arg)?;
                    if part != "stream" && part != "upload" {
                        return Err(format!("--only takes stream or upload, not {part:?}"));
                    }
                    opts.only = Some(part);
                }
                "--seconds" => opts.measure = seconds(&value(arg)?)?,
                "--warmup" => opts.warmup = seconds(&value(arg)?)?,
                "--rounds" => opts.rounds = number(&value(arg)?)?.max(1) as usize,
                "--connections" => opts.connections = number(&value(arg)?)?.max(1) as usize,
                "--client-threads" => opts.client_threads = number(&value(arg)?)?.max(1) as usize,
                "--comments" => opts.comments = number(&value(arg)?)?.max(1),
                "--batch" => opts.batch = number(&value(arg)?)?.max(1),
                "--uploaders" => opts.uploaders = number(&value(arg)?)?.max(1) as usize,
                "--hub-bin" => opts.hub_bin = Some(PathBuf::from(value(arg)?)),
                "--backends" => {
                    opts.backends = value(arg)?
                        .split(',')
                        .map(|b| match b.trim() {
                            "sqlite" => Ok(Backend::Sqlite),
                            "postgres" => Ok(Backend::Postgres),
                            other => Err(format!(
                                "--backends takes sqlite and/or postgres, not {other:?}"
                            )),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--pg-setting" => {
                    let setting = value(arg)?;
                    let Some((name, v)) = setting.split_once('=') else {
                        return Err(format!("--pg-setting takes name=value, not {setting:?}"));
                    };
                    opts.pg_settings
                        .push((name.trim().to_owned(), v.trim().to_owned()));
                }
                "--no-build" => opts.build = false,
                "--upload-in-process" => opts.upload_in_process = true,
                "--keep-data" => opts.keep_data = true,
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        Ok(opts)
    }

    fn runs(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|p| p == part)
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("not a positive number of seconds: {text:?}"))
}

fn number(text: &str) -> Result<u64, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("not a whole number: {text:?}"))
}

/// An HTTP client for set-up calls and uploads (no proxy: everything is on loopback).
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Sends a set-up request and returns its JSON answer; anything but a 2xx success is an error.
pub async fn call(request: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
    let response = request.send().await.map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let url = response.url().path().to_owned();
    let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {text}"));
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{url}: not JSON ({e}): {text}"))?;
    if value["status"] != "success" {
        return Err(format!("{url} failed: {text}"));
    }
    Ok(value)
}

/// Bytes as MiB text.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn runtime(name: &'static str, threads: Option<usize>) -> Result<tokio::runtime::Runtime, String> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n);
    }
    builder
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime {name}: {e}"))
}

fn build_hub_binary() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    println!("building the hub binary: cargo build --release -p fastcomments");
    let mut command = std::process::Command::new(cargo);
    command
        .args(["build", "--release", "-p", "fastcomments"])
        .current_dir(workspace);
    // Cargo gave this bench its package's variables; build scripts (ring's) that watch them
    // would see a change and rebuild everything on every run.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_for_this_target = key == "OUT_DIR"
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                key.as_ref(),
                "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_for_this_target {
            command.env_remove(key.as_ref());
        }
    }
    let status = command
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo build --release -p fastcomments failed ({status}); pass --hub-bin or --no-build"
        ))
    }
}

fn yes_no(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        // Test listers (nextest) ask for tests; this binary has none to list.
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let opts = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hub_load failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the selected parts and prints the summary; `Ok(false)` when a request failed.
fn run(opts: &Options) -> Result<bool, String> {
    let data_root =
        std::env::temp_dir().join(format!("fastcomments-hub-load-{}", std::process::id()));
    std::fs::create_dir_all(&data_root).map_err(|e| format!("{}: {e}", data_root.display()))?;
    println!(
        "hub_load ({} sizes) on {} cores, load {}, data in {}",
        opts.preset,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        procfs::loadavg(),
        data_root.display()
    );
    let postgres = if opts.backends.contains(&Backend::Postgres) {
        let rt = runtime("postgres", Some(1))?;
        let cluster = rt
            .block_on(testkit::PgCluster::start_with(testkit::PgOptions {
                settings: opts.pg_settings.clone(),
                ..testkit::PgOptions::durable()
            }))
            .map_err(|e| format!("starting PostgreSQL: {e}"))?;
        println!(
            "PostgreSQL (durable defaults{}) at {}",
            opts.pg_settings
                .iter()
                .map(|(n, v)| format!(", {n} = {v}"))
                .collect::<String>(),
            cluster.url()
        );
        Some((rt, cluster))
    } else {
        None
    };
    let mut clean = true;
    let mut results = Vec::new();
    for (i, backend) in opts.backends.iter().enumerate() {
        let database_url = match (backend, &postgres) {
            (Backend::Postgres, Some((rt, cluster))) => Some(
                rt.block_on(cluster.database(&format!("bench_{i}")))
                    .map_err(|e| format!("creating a database: {e}"))?,
            ),
            _ => None,
        };
        println!("\n######## backend: {}", backend.name());
        let dir = data_root.join(format!("{i}"));
        let result = run_parts(opts, &dir, database_url.as_deref());
        if let (Some(url), Some((rt, _))) = (&database_url, &postgres) {
            rt.block_on(print_statement_costs(url));
        }
        match result {
            Ok(parts) => results.push((*backend, parts)),
            Err(e) => {
                if !opts.keep_data {
                    let _ = std::fs::remove_dir_all(&data_root);
                }
                return Err(e);
            }
        }
    }
    if !opts.keep_data {
        let _ = std::fs::remove_dir_all(&data_root);
    }
    for (backend, (stream, upload)) in &results {
        println!("\n#### {}", backend.name());
        clean &= summary(opts, stream.as_ref(), upload.as_ref());
    }
    Ok(clean)
}

/// With `--pg-setting shared_preload_libraries=pg_stat_statements`, the statements PostgreSQL
/// spent the most time on during the run, so a slow backend says where its time went.
async fn print_statement_costs(url: &str) {
    let Ok(pool) = sqlx::PgPool::connect(url).await else {
        return;
    };
    if sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&pool)
        .await
        .is_err()
    {
        return;
    }
    /// Query text, calls, total ms, rows, WAL bytes.
    type StatementCost = (String, i64, f64, i64, i64);
    let rows: Result<Vec<StatementCost>, _> = sqlx::query_as(
        "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 110), calls, total_exec_time, \
         rows, wal_bytes::bigint FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         ORDER BY total_exec_time DESC LIMIT 12",
    )
    .fetch_all(&pool)
    .await;
    match rows {
        Ok(rows) => {
            println!("\n-- PostgreSQL statements by execution time (pg_stat_statements):");
            println!(
                "{:>10} {:>9} {:>10} {:>8}  query",
                "ms", "calls", "rows", "WAL MiB"
            );
            for (query, calls, ms, n, wal) in rows {
                let wal_mib = wal as f64 / (1024.0 * 1024.0);
                println!("{ms:>10.0} {calls:>9} {n:>10} {wal_mib:>8.1}  {query}");
            }
        }
        Err(e) => println!("(pg_stat_statements unreadable: {e})"),
    }
    pool.close().await;
}

type Parts = (Option<stream::StreamReport>, Option<upload::UploadReport>);

fn run_parts(
    opts: &Options,
    data_root: &std::path::Path,
    database_url: Option<&str>,
) -> Result<Parts, String> {
    // The servers' runtime is what `#[tokio::main]` gives the hub binary: one worker per core.
    let server_rt = runtime("server", None)?;
    let loadgen_rt = runtime(loadgen::THREAD_PREFIX, Some(opts.client_threads))?;
    let mut stream_report = None;
    let mut upload_report = None;
    if opts.runs("stream") {
        println!(
            "\n== a. idle stream polls vs hello: {} connections, {} rounds × {:.1} s counted (+{:.1} s warm-up), loadgen {} threads",
            opts.connections,
            opts.rounds,
            opts.measure.as_secs_f64(),
            opts.warmup.as_secs_f64(),
            opts.client_threads
        );
        let dir = data_root.join("stream");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        stream_report = Some(stream::run(
            opts,
            &dir,
            database_url,
            &server_rt,
            &loadgen_rt,
        )?);
    }
    if opts.runs("upload") {
        println!(
            "\n== b. upload: {} comments in batches of {}, {} in flight",
            opts.comments, opts.batch, opts.uploaders
        );
        let dir = data_root.join("upload");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let hub = if opts.upload_in_process {
            upload::start_in_process(&server_rt, &dir, database_url)?
        } else {
            let bin = match &opts.hub_bin {
                Some(b) => b.clone(),
                None => {
                    if opts.build {
                        build_hub_binary()?;
                    }
                    upload::default_binary().ok_or("cannot locate target/release/fastcomments")?
                }
            };
            if !bin.exists() {
                return Err(format!("{} does not exist", bin.display()));
            }
            loadgen_rt.block_on(upload::start_child(&bin, &dir, database_url))?
        };
        upload_report = Some(loadgen_rt.block_on(upload::run(opts, hub, &dir))?);
    }
    loadgen_rt.shutdown_timeout(Duration::from_secs(5));
    server_rt.shutdown_timeout(Duration::from_secs(5));
    Ok((stream_report, upload_report))
}

/// Prints the results as a Markdown table; returns whether every request succeeded.
fn summary(
    opts: &Options,
    stream: Option<&stream::StreamReport>,
    upload: Option<&upload::UploadReport>,
) -> bool {
    let mut clean = true;
    println!("\n== summary ({} sizes)\n", opts.preset);
    if opts.preset != "full" {
        println!("(the bars are meant for the full sizes; smaller runs only show the shape)\n");
    }
    println!("| measure | value | bar | |");
    println!("|---|---|---|---|");
    if let Some(s) = stream {
        let ratio = s.stream_rps() / s.hello_rps();
        let errors = s.errors();
        clean &= errors == 0 && s.idle_polls == s.polls;
        println!(
            "| hello (axum `GET /`), req/s, median of {} | {:.0} | | |",
            s.hello.len(),
            s.hello_rps()
        );
        println!(
            "| idle stream poll, req/s, median of {} | {:.0} | | |",
            s.stream.len(),
            s.stream_rps()
        );
        println!(
            "| idle stream / hello | {:.0}% | ≥ 50% | {} |",
            ratio * 100.0,
            yes_no(ratio >= 0.5)
        );
        println!(
            "| server CPU per request, hello / stream | {:.1} µs / {:.1} µs (stream/hello CPU ratio {:.2}) | | |",
            s.hello_server_us(),
            s.stream_server_us(),
            s.stream_server_us() / s.hello_server_us()
        );
        println!(
            "| idle poll answer | {} bytes; {} of {} polls idle (no disk) | all idle | {} |",
            s.stream_body_bytes,
            s.idle_polls,
            s.polls,
            yes_no(s.idle_polls == s.polls)
        );
        println!(
            "| load errors (non-200, wrong body, transport) | {errors} | 0 | {} |",
            yes_no(errors == 0)
        );
    }
    if let Some(u) = upload {
        clean &= u.errors == 0 && u.total_count == u.comments;
        let peak = u.rss_peak.unwrap_or(0);
        println!(
            "| upload, comments/s ({} comments, {} batches of {}, {} in flight, hub as {}) | {:.0} ({:.1} s) | ≥ 25,000 | {} |",
            u.comments,
            u.batches,
            opts.batch,
            u.uploaders,
            u.mode,
            u.rate(),
            u.elapsed.as_secs_f64(),
            yes_no(u.rate() >= 25_000.0)
        );
        println!(
            "| hub peak RSS (VmHWM{}) | {} | ≤ 300 MB | {} |",
            if u.mode == "in-process" {
                ", includes the generator"
            } else {
                ""
            },
            mib(peak),
            yes_no(peak > 0 && peak <= 300_000_000)
        );
        println!(
            "| hub RSS at start / end | {} / {} | | |",
            u.rss_start.map_or("?".into(), mib),
            u.rss_end.map_or("?".into(), mib)
        );
        if let Some(cpu) = u.hub_cpu {
            println!(
                "| hub CPU during upload | {:.1} s ({:.1} µs per comment, {:.0}% of one core) | | |",
                cpu.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / u.comments as f64,
                cpu.as_secs_f64() * 100.0 / u.elapsed.as_secs_f64()
            );
        }
        let threads: Vec<String> = u
            .hub_threads
            .iter()
            .take(3)
            .map(|t| {
                format!(
                    "{} {:.1} s (+{:.1} s waiting for a CPU)",
                    t.name,
                    t.on_cpu_ns as f64 / 1e9,
                    t.waiting_ns as f64 / 1e9
                )
            })
            .collect();
        if !threads.is_empty() {
            println!(
                "| busiest hub threads, on CPU | {} | | |",
                threads.join("; ")
            );
        }
        println!(
            "| making request bodies (this process) | {:.1} s | | |",
            u.generate.as_secs_f64()
        );
        println!(
            "| batch latency p50 / p95 / max | {:.0} / {:.0} / {:.0} ms | | |",
            u.latency(50.0),
            u.latency(95.0),
            u.latency(100.0)
        );
        println!(
            "| comment JSON, mean / request body, mean | {:.0} B / {:.0} KiB | 300–500 B | |",
            u.avg_comment_bytes,
            u.avg_body_bytes / 1024.0
        );
        println!(
            "| database after upload (hub.db + WAL) | {} | | |",
            mib(u.db_bytes)
        );
        println!(
            "| upload errors; comments the hub counts | {}; {} | 0; {} | {} |",
            u.errors,
            u.total_count,
            u.comments,
            yes_no(u.errors == 0 && u.total_count == u.comments)
        );
    }
    clean
}
