//! `fastcomments sync`: a ready integration that mirrors a tenant's comments into SQLite.
//!
//! It is a thin shell over `fastcomments-integration`: a [`SqliteMirror`] as comment source and
//! event sink, a [`JsonFileStateStore`] for the state, and a progress bar.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use fastcomments_integration::{
    Config, Error, Integration, JsonFileStateStore, Phase, Progress, Protocol, SqliteMirror,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which protocol generation to speak.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProtocolArg {
    /// `GET /stream` (generation A).
    Stream,
    /// `GET /commands` + `GET /events` (generation B, what deployed plugins speak).
    Commands,
}

/// Flags of `fastcomments sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The hub's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "FASTCOMMENTS_HUB")]
    hub: String,
    /// The state file (token, cursors, upload progress); created on first run.
    #[arg(long)]
    state: PathBuf,
    /// The SQLite mirror: local comments to upload, and where hub events land.
    #[arg(long)]
    mirror: PathBuf,
    /// Seed the mirror with local comments, one JSON comment per line (re-importing skips
    /// comments whose externalId is already there).
    #[arg(long)]
    import: Option<PathBuf>,
    /// Run one tick (register/validate, upload, catch up) and exit.
    #[arg(long)]
    once: bool,
    /// Exit once setup completed and every event so far is applied.
    #[arg(long)]
    exit_when_synced: bool,
    /// Protocol generation.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Stream)]
    protocol: ProtocolArg,
    /// Sent as integrationType when registering.
    #[arg(long, default_value = "fastcomments-sync")]
    integration_type: String,
    /// Sent as domain when registering.
    #[arg(long)]
    domain: Option<String>,
    /// Milliseconds between polls until setup completes.
    #[arg(long, default_value_t = 3000)]
    poll_interval_ms: u64,
    /// Seconds between polls once setup completed.
    #[arg(long, default_value_t = 86_400)]
    idle_interval_secs: u64,
    /// Largest upload batch (the hub may ask for fewer).
    #[arg(long, default_value_t = 500)]
    max_batch: usize,
    /// Upload batches in flight at once.
    #[arg(long, default_value_t = 8)]
    upload_concurrency: usize,
    /// Print one JSON line of statistics (timings, peak RSS) to stdout on exit.
    #[arg(long)]
    stats: bool,
}

#[derive(Default)]
struct Stats {
    upload_started: Option<Instant>,
    upload_finished: Option<Instant>,
    uploaded: u64,
    events: u64,
    first_poll: Option<Instant>,
    last_event: Option<Instant>,
}

/// CPU seconds (user + system) this process used, from `/proc/self/stat`.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

/// Runs `fastcomments sync`.
pub async fn run(args: SyncArgs) -> Result<()> {
    let mirror = SqliteMirror::open(&args.mirror)
        .await
        .map_err(|e| anyhow::anyhow!("opening the mirror {}: {e}", args.mirror.display()))?;
    if let Some(file) = &args.import {
        let added = mirror
            .import_jsonl(file)
            .await
            .map_err(|e| anyhow::anyhow!("importing {}: {e}", file.display()))?;
        eprintln!(
            "imported {added} new local comments from {}",
            file.display()
        );
    }
    let mut config = Config::new(args.hub.clone());
    config.protocol = match args.protocol {
        ProtocolArg::Stream => Protocol::Stream,
        ProtocolArg::Commands => Protocol::Commands,
    };
    config.integration_type = Some(args.integration_type.clone());
    config.domain = args.domain.clone();
    config.setup_poll_interval = Duration::from_millis(args.poll_interval_ms.max(10));
    config.idle_poll_interval = Duration::from_secs(args.idle_interval_secs.max(1));
    config.max_batch = args.max_batch.max(1);
    config.upload_concurrency = args.upload_concurrency.max(1);

    // Hidden until there is something to measure, so rates and ETAs start with the work.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    let stats = Arc::new(Mutex::new(Stats::default()));
    let printed_url = Arc::new(Mutex::new(false));
    let on_progress = {
        let bar = bar.clone();
        let stats = stats.clone();
        let printed_url = printed_url.clone();
        Arc::new(move |p: &Progress| {
            let mut s = match stats.lock() {
                Ok(s) => s,
                Err(e) => e.into_inner(),
            };
            match p {
                Progress::AwaitingAcknowledgement { setup_url } => {
                    let mut printed = match printed_url.lock() {
                        Ok(g) => g,
                        Err(e) => e.into_inner(),
                    };
                    if !*printed {
                        println!("Open this URL to connect the integration:\n  {setup_url}");
                        *printed = true;
                    }
                }
                Progress::Connected { tenant_id } => {
                    s.first_poll.get_or_insert_with(Instant::now);
                    bar.suspend(|| eprintln!("connected to tenant {tenant_id}"));
                }
                Progress::UploadStarted { sent, total } => {
                    s.upload_started = Some(Instant::now());
                    bar.reset();
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.set_style(
                        ProgressStyle::with_template(
                            "uploading {bar:40} {pos}/{len} comments ({per_sec}, {eta})",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_length(*total);
                    bar.set_position(*sent);
                }
                Progress::Uploaded { sent, total } => {
                    bar.set_length(*total);
                    bar.set_position(*sent);
                }
                Progress::UploadFinished { sent } => {
                    s.upload_finished = Some(Instant::now());
                    s.uploaded = *sent;
                    bar.finish_and_clear();
                    eprintln!("upload finished: {sent} comments");
                }
                Progress::EventsApplied { applied, .. } => {
                    s.events += applied;
                    if *applied > 0 {
                        if s.last_event.is_none() {
                            bar.reset();
                            bar.set_draw_target(ProgressDrawTarget::stderr());
                        }
                        s.last_event = Some(Instant::now());
                        bar.set_style(
                            ProgressStyle::with_template("applying events {pos} ({per_sec})")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_length(s.events);
                        bar.set_position(s.events);
                    }
                }
                Progress::SetupCompleted => bar.suspend(|| eprintln!("setup completed")),
                Progress::GapDetected { cursor } => bar.suspend(|| {
                    eprintln!("events since {cursor} were lost by the hub's retention: re-syncing")
                }),
                Progress::Resynced { comments } => {
                    bar.suspend(|| eprintln!("re-synced {comments} comments"))
                }
                Progress::Retrying {
                    attempt, reason, ..
                } => tracing::debug!(attempt, %reason, "retrying"),
                Progress::TickFailed { error, retry_in } => {
                    bar.suspend(|| eprintln!("sync failed ({error}); retrying in {retry_in:?}"))
                }
                Progress::CaughtUp { .. } => {}
            }
        })
    };
    let store = Arc::new(JsonFileStateStore::new(&args.state));
    let source = Arc::new(mirror.clone());
    let sink = Arc::new(mirror.clone());
    let mut integration = Integration::new(config.clone(), store, source, sink)
        .await
        .context("starting the integration")?
        .with_progress(on_progress);
    integration
        .ensure_token()
        .await
        .context("creating the token")?;

    let started = Instant::now();
    let result = if args.once {
        stats_first_poll(&stats);
        integration.tick().await.map(|_| ())
    } else if args.exit_when_synced {
        until_synced(&mut integration, &config, &stats).await
    } else {
        stats_first_poll(&stats);
        integration.run(super::shutdown_signal()).await
    };
    bar.finish_and_clear();
    if args.stats {
        let s = match stats.lock() {
            Ok(s) => s,
            Err(e) => e.into_inner(),
        };
        let secs = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        println!(
            "{}",
            serde_json::json!({
                "uploaded": s.uploaded,
                "upload_secs": secs(s.upload_started, s.upload_finished),
                "events": s.events,
                "events_secs": secs(s.first_poll, s.last_event),
                "total_secs": started.elapsed().as_secs_f64(),
                "peak_rss_kib": peak_rss_kib(),
                "cpu_secs": cpu_secs(),
                "phase": format!("{:?}", integration.phase()),
            })
        );
    }
    result.map_err(anyhow::Error::from)?;
    if integration.phase() == Phase::AwaitingAcknowledgement && args.once {
        eprintln!("waiting for a tenant admin to acknowledge the token; run again later");
    }
    Ok(())
}

fn stats_first_poll(stats: &Mutex<Stats>) {
    if let Ok(mut s) = stats.lock() {
        s.first_poll.get_or_insert_with(Instant::now);
    }
}

/// Ticks until setup completed and the last tick found nothing left to apply.
async fn until_synced(
    integration: &mut Integration,
    config: &Config,
    stats: &Mutex<Stats>,
) -> Result<(), Error> {
    let mut failures = 0;
    let mut shutdown = std::pin::pin!(super::shutdown_signal());
    loop {
        let connected = integration.state().tenant_id.is_some();
        if connected {
            stats_first_poll(stats);
        }
        let tick = tokio::select! {
            t = integration.tick() => t,
            _ = &mut shutdown => return Ok(()),
        };
        let wait = match tick {
            Ok(o) if o.phase == Phase::SetupCompleted => return Ok(()),
            Ok(o) => {
                failures = 0;
                if o.phase == Phase::Syncing {
                    stats_first_poll(stats);
                }
                config.setup_poll_interval
            }
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "sync tick failed");
                fastcomments_integration::backoff::delay(
                    failures,
                    Duration::from_millis(200),
                    Duration::from_secs(10),
                )
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut shutdown => return Ok(()),
        }
    }
}
