//! `fastcomments`: one binary for the hub and its tools.
//!
//! - `serve`: run the hub (SQLite by default, in `./fastcomments-data/`).
//! - `tenant create`: create a tenant in the data directory and print its id and API secret.
//! - `sync`: an integration mirroring a tenant's comments into SQLite.
//! - `webhooks listen`: a verifying webhook receiver for local development.

mod sync;
mod transfer;
mod webhooks;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use fastcomments_hub::config::ConnectionLimits;
use fastcomments_hub::store::postgres::DEFAULT_STORE_TIMEOUT;
use fastcomments_hub::{open_store_within, Hub, HubConfig, RunningHub, SystemClock};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "fastcomments",
    version,
    about = "FastComments hub and integration tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the hub: integration API, comments API, operator API.
    Serve(ServeArgs),
    /// Run an integration that mirrors a tenant's comments into SQLite (upload, then events).
    Sync(sync::SyncArgs),
    /// Webhook tools for local development.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCmd,
    },
    /// Import a Disqus export, a WordPress export (WXR) or JSON lines into a running hub.
    Import(transfer::ImportArgs),
    /// Export a tenant's comments from a running hub as JSON lines.
    Export(transfer::ExportArgs),
    /// Manage tenants directly in the data directory (no running hub needed).
    Tenant {
        #[command(subcommand)]
        command: TenantCmd,
    },
}

#[derive(Args, Debug, Clone)]
struct StoreArgs {
    /// Where the embedded SQLite database lives (hub.db).
    #[arg(
        long,
        env = "FASTCOMMENTS_DATA_DIR",
        default_value = "./fastcomments-data"
    )]
    data_dir: PathBuf,
    /// The database instead of --data-dir's hub.db: sqlite://PATH, or postgres://USER@HOST/DB
    /// for a database several hub nodes share (each node runs its own `serve`).
    #[arg(long, env = "FASTCOMMENTS_DATABASE_URL")]
    database_url: Option<String>,
    /// PostgreSQL only: the longest a request waits for a database connection, in
    /// milliseconds. While the database is down or restarting, requests are answered 503 with
    /// Retry-After after this instead of piling up. A call that waited half of it makes the
    /// node ask the server whether it answers (within the other half); one that does not ends
    /// the call with 503 too.
    #[arg(
        long,
        env = "FASTCOMMENTS_STORE_TIMEOUT_MS",
        default_value_t = DEFAULT_STORE_TIMEOUT.as_millis() as u64
    )]
    store_timeout_ms: u64,
}

impl StoreArgs {
    async fn open(&self) -> Result<Arc<dyn fastcomments_hub::store::Store>> {
        let timeout = Duration::from_millis(self.store_timeout_ms.max(1));
        open_store_within(self.database_url.as_deref(), &self.data_dir, timeout)
            .await
            .context("opening the store")
    }
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FASTCOMMENTS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Largest upload body in bytes; bigger batches get 413 and the plugin halves them.
    #[arg(long, env = "FASTCOMMENTS_UPLOAD_LIMIT", default_value_t = 1024 * 1024)]
    upload_limit: usize,
    /// Days timeline entries are kept; older cursors are told to re-sync.
    #[arg(long, env = "FASTCOMMENTS_RETENTION_DAYS", default_value_t = 14)]
    retention_days: u64,
    /// Events per stream page.
    #[arg(long, env = "FASTCOMMENTS_PAGE_SIZE", default_value_t = 500)]
    page_size: u64,
    /// Webhook retry unit in milliseconds: attempt n failing waits n × this (default 1 minute).
    #[arg(
        long,
        env = "FASTCOMMENTS_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 60_000
    )]
    webhook_retry_base_ms: u64,
    /// Webhook attempts before a delivery is marked failed.
    #[arg(long, env = "FASTCOMMENTS_WEBHOOK_MAX_ATTEMPTS", default_value_t = 99)]
    webhook_max_attempts: i64,
    /// Webhook deliveries in flight at once.
    #[arg(long, env = "FASTCOMMENTS_WEBHOOK_CONCURRENCY", default_value_t = 128)]
    webhook_concurrency: usize,
    /// Webhook deliveries in flight at once to one receiver host (host:port), so a receiver
    /// that hangs delays only its own deliveries.
    #[arg(
        long,
        env = "FASTCOMMENTS_WEBHOOK_PER_HOST_CONCURRENCY",
        default_value_t = 16
    )]
    webhook_per_host_concurrency: usize,
    /// Webhook deliveries in flight at once for one tenant.
    #[arg(
        long,
        env = "FASTCOMMENTS_WEBHOOK_PER_TENANT_CONCURRENCY",
        default_value_t = 32
    )]
    webhook_per_tenant_concurrency: usize,
    /// Webhook deliveries in flight at once for one subscription (`POST /api/v1/webhooks`).
    #[arg(
        long,
        env = "FASTCOMMENTS_WEBHOOK_PER_SUBSCRIPTION_CONCURRENCY",
        default_value_t = 8
    )]
    webhook_per_subscription_concurrency: usize,
    /// Timeout of one webhook attempt in milliseconds, from connecting to the end of the answer.
    #[arg(long, env = "FASTCOMMENTS_WEBHOOK_TIMEOUT_MS", default_value_t = 5_000)]
    webhook_timeout_ms: u64,
    /// How long a delivery a dispatcher took stays its own if its attempt is never recorded
    /// (its hub died), in milliseconds; then another hub node, or this one restarted, sends
    /// it. Must be longer than the attempt timeout.
    #[arg(
        long,
        env = "FASTCOMMENTS_WEBHOOK_CLAIM_LEASE_MS",
        default_value_t = 60_000
    )]
    webhook_claim_lease_ms: u64,
    /// Let webhooks reach private, loopback and link-local addresses (local development only:
    /// any tenant could then make the hub call services on its network). Off by default.
    #[arg(long, env = "FASTCOMMENTS_WEBHOOK_ALLOW_PRIVATE_TARGETS")]
    webhook_allow_private_targets: bool,
    /// Days succeeded and cancelled webhook deliveries and their attempt logs are kept
    /// (failed and pending ones are kept until they are retried, cancelled or succeed).
    #[arg(
        long,
        env = "FASTCOMMENTS_WEBHOOK_RETENTION_DAYS",
        default_value_t = 30
    )]
    webhook_retention_days: u64,
    /// Hours a webhook subscription may fail every attempt before it is disabled (its
    /// deliveries wait, paused, until it is enabled again); default 5 days.
    #[arg(
        long,
        env = "FASTCOMMENTS_WEBHOOK_DISABLE_AFTER_HOURS",
        default_value_t = 120
    )]
    webhook_disable_after_hours: u64,
    /// Seconds a connection has to send a complete request head, from when it opened or, when
    /// kept alive, from the first byte of its next request; then it is closed.
    #[arg(
        long,
        env = "FASTCOMMENTS_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10
    )]
    header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "FASTCOMMENTS_IDLE_TIMEOUT_SECS", default_value_t = 30)]
    idle_timeout_secs: u64,
    /// Seconds a request's body may take to arrive after its head; a slower one closes the
    /// connection (60 s is a 1 MiB upload at 17 KB/s).
    #[arg(
        long,
        env = "FASTCOMMENTS_BODY_READ_TIMEOUT_SECS",
        default_value_t = 60
    )]
    body_read_timeout_secs: u64,
    /// Most open connections in all; more are closed at once. Lowered at start to three
    /// quarters of the process's open-files limit when that is lower.
    #[arg(long, env = "FASTCOMMENTS_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Most open connections from one client address (an IPv6 /64 counts as one address);
    /// a trusted proxy's connections count only toward --max-connections.
    #[arg(
        long,
        env = "FASTCOMMENTS_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 128
    )]
    max_connections_per_address: usize,
    /// A reverse proxy in front of the hub, as an address or CIDR (repeatable; the env value
    /// is comma-separated). Only from these is `X-Forwarded-For` / `Forwarded` believed, so
    /// each client behind them is counted on its own by the rate limits. None by default.
    #[arg(
        long = "trusted-proxy",
        env = "FASTCOMMENTS_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_net
    )]
    trusted_proxies: Vec<ipnet::IpNet>,
}

/// An address (`192.0.2.1`, `::1`) or a network (`10.0.0.0/8`).
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let t = text.trim();
    if let Ok(net) = t.parse::<ipnet::IpNet>() {
        return Ok(net);
    }
    t.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("not an address or CIDR network: {t:?}"))
}

/// Raises the soft open-files limit to the hard one (each connection holds a descriptor) and
/// returns the limit in force, if it can be read.
fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct we pass, nothing else.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let before = limit.rlim_cur;
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                tracing::info!(
                    from = before,
                    to = raised.rlim_cur,
                    "raised the open-files limit"
                );
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

/// The environment name the private-targets setting had before it was renamed; still read.
const OLD_ALLOW_PRIVATE_ENV: &str = "FASTCOMMENTS_ALLOW_PRIVATE_WEBHOOK_TARGETS";

/// Whether an environment value turns a switch on, the way clap reads boolean flags' env values.
fn env_switch_on(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off" | "n" | "f"
        )
    })
}

#[derive(Subcommand, Debug)]
enum WebhooksCmd {
    /// Receive webhooks on 127.0.0.1, verify each one and print kind, comment id and verdict.
    Listen(webhooks::ListenArgs),
}

#[derive(Subcommand, Debug)]
enum TenantCmd {
    /// Create a tenant with a wildcard ("All Domains") API secret.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// A domain the tenant owns (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn serve(args: ServeArgs) -> Result<()> {
    let store = args.store.open().await?;
    let admin_token = std::env::var("FASTCOMMENTS_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if args.page_size == 0 {
        anyhow::bail!("--page-size must be at least 1");
    }
    let allow_private = args.webhook_allow_private_targets || env_switch_on(OLD_ALLOW_PRIVATE_ENV);
    if allow_private {
        tracing::warn!(
            "--webhook-allow-private-targets is on: webhooks of every tenant may reach loopback, \
             private and link-local addresses, including services on this machine and its \
             network. Use it for local development only."
        );
    }
    let open_files = raise_open_files_limit();
    let mut max_connections = args.max_connections.max(1);
    if let Some(limit) = open_files {
        let room = usize::try_from(limit.saturating_mul(3) / 4)
            .unwrap_or(usize::MAX)
            .max(1);
        if room < max_connections {
            tracing::warn!(
                open_files = limit,
                max_connections = room,
                "the open-files limit is low: at most {room} connections at once"
            );
            max_connections = room;
        }
    }
    let connections = ConnectionLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs.max(1)),
        body_read_timeout: Duration::from_secs(args.body_read_timeout_secs.max(1)),
        max_connections,
        max_per_address: args.max_connections_per_address.max(1),
        trusted_proxies: args.trusted_proxies.clone(),
    };
    let config = HubConfig {
        admin_token,
        connections,
        upload_limit_bytes: args.upload_limit,
        retention: Duration::from_secs(args.retention_days.max(1) * 24 * 3600),
        page_size: args.page_size,
        webhook_retry_base: Duration::from_millis(args.webhook_retry_base_ms.max(1)),
        webhook_max_attempts: args.webhook_max_attempts.max(1),
        webhook_concurrency: args.webhook_concurrency.max(1),
        webhook_per_host_concurrency: args.webhook_per_host_concurrency.max(1),
        webhook_per_tenant_concurrency: args.webhook_per_tenant_concurrency.max(1),
        webhook_per_subscription_concurrency: args.webhook_per_subscription_concurrency.max(1),
        webhook_timeout: Duration::from_millis(args.webhook_timeout_ms.max(1)),
        webhook_claim_lease: Duration::from_millis(
            args.webhook_claim_lease_ms
                .max(args.webhook_timeout_ms.saturating_mul(2))
                .max(1),
        ),
        webhook_allow_private_targets: allow_private,
        webhook_delivery_retention: Duration::from_secs(
            args.webhook_retention_days.max(1).saturating_mul(24 * 3600),
        ),
        webhook_disable_after: Duration::from_secs(
            args.webhook_disable_after_hours.max(1).saturating_mul(3600),
        ),
        ..HubConfig::default()
    };
    let running = RunningHub::bind(&args.listen, store, config, shutdown_signal())
        .await
        .with_context(|| format!("starting the hub on {}", args.listen))?;
    println!("fastcomments hub listening on {}", running.url());
    running.wait().await.context("serving")?;
    Ok(())
}

async fn tenant_create(name: String, domains: Vec<String>, store: StoreArgs) -> Result<()> {
    let store = store.open().await?;
    let hub = Hub::new(store, Arc::new(SystemClock), HubConfig::default());
    let (tenant, secret) = hub
        .create_tenant(&name, domains)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.reason))?;
    println!("tenant id:  {}", tenant.id);
    println!("api secret: {}", secret.secret);
    Ok(())
}

/// Logs go to stderr, coloured only when stderr is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>): a log file or a pipe gets plain text.
///
/// `RUST_LOG` takes a level and `target=level` pairs (`debug`, `info,sqlx=warn`), with `info`
/// by default. That is `Targets`, not `EnvFilter`: EnvFilter's span and field matching would
/// build a regex engine into the binary (BENCHMARKS.md "Build time").
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let default = || Targets::new().with_default(LevelFilter::INFO);
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let (filter, refused) = match spec.as_deref().map(str::parse::<Targets>) {
        Some(Ok(targets)) => (targets, None),
        Some(Err(e)) => (default(), Some(e)),
        None => (default(), None),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal() && !no_color),
        )
        .with(filter)
        .init();
    if let Some(e) = refused {
        tracing::warn!("RUST_LOG is not `level` or `target=level,…` ({e}); logging at info");
    }
}

/// One line on stderr: `error: ` and the error with its causes joined by `: `. A user's mistake
/// (a port in use, a bad data directory) needs no backtrace or Debug dump, whatever
/// `RUST_BACKTRACE` says; newlines inside a cause are flattened so the line stays one line.
fn report(error: &anyhow::Error) {
    eprintln!("error: {}", one_line(&format!("{error:#}")));
}

/// A command-line mistake as one line; `--help` and `--version` print as clap prints them.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit();
    }
    // clap's first paragraph is the message (a list of missing arguments spans several
    // lines); tips and the usage block after it are left out.
    let rendered = error.render().to_string();
    let paragraph = rendered
        .trim_start()
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let message = one_line(paragraph);
    let message = message.strip_prefix("error:").unwrap_or(&message).trim();
    eprintln!("error: {message} (see --help)");
    ExitCode::from(2)
}

/// The lines of `text`, trimmed and joined by spaces.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Serve(args) => serve(args).await,
        Cmd::Sync(args) => sync::run(args).await,
        Cmd::Import(args) => transfer::import(args).await,
        Cmd::Export(args) => transfer::export(args).await,
        Cmd::Webhooks {
            command: WebhooksCmd::Listen(args),
        } => webhooks::listen(args).await,
        Cmd::Tenant {
            command:
                TenantCmd::Create {
                    name,
                    domains,
                    store,
                },
        } => tenant_create(name, domains, store).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    init_logging();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
